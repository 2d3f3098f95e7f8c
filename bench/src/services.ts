import { createHash, randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';

/** Where the shared services are; each can be moved with the usual variables. */
export const PG_ADMIN_URL = process.env['BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const KAFKA_BROKERS = (process.env['BENCH_KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
/** A dedicated Redis database index; the bench deletes only the keys it created. */
export const REDIS_URL = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379/13';

export const RUN_ID = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;

export function dbUrl(name: string): string {
  const u = new URL(PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** A database of the bench's own, dropped at the end of the run. */
export class BenchDatabase {
  private constructor(
    readonly name: string,
    readonly url: string,
  ) {}

  static async create(suffix: string): Promise<BenchDatabase> {
    const name = `regstream_bench_${RUN_ID}_${suffix}`;
    await admin(`CREATE DATABASE ${name}`);
    return new BenchDatabase(name, dbUrl(name));
  }

  async drop(): Promise<void> {
    await admin(`DROP DATABASE IF EXISTS ${this.name} WITH (FORCE)`);
  }

  async query<R = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<R[]> {
    const c = new Client({ connectionString: this.url });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as R[];
    } finally {
      await c.end();
    }
  }
}

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/**
 * An admin API key written the way ApiKeyService stores it (`rs_<id>_<secret>`, sha-256 of the
 * secret), so the bench needs no Nest context to authenticate.
 */
export async function issueApiKey(db: BenchDatabase): Promise<string> {
  const keyId = randomBytes(9).toString('hex').slice(0, 12);
  const secret = randomBytes(32).toString('base64url');
  await db.query(`INSERT INTO api_keys (key_id, principal, scopes, hash, label, created_at) VALUES ($1, $2, $3, $4, $5, $6)`, [
    keyId,
    'bench',
    JSON.stringify(['admin']),
    createHash('sha256').update(secret).digest(),
    'benchmark key',
    new Date().toISOString(),
  ]);
  return `rs_${keyId}_${secret}`;
}

export function benchKafka(clientId = 'regstream-bench'): Kafka {
  return new Kafka({ clientId, brokers: KAFKA_BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });
}

/** Topics are unique per run and deleted at the end; the shared broker is never touched otherwise. */
export class BenchTopics {
  private readonly created: string[] = [];
  constructor(private readonly kafka: Kafka) {}

  name(label: string): string {
    return `regstream-bench.${RUN_ID}.${label}`;
  }

  async create(label: string, partitions = 6): Promise<string> {
    const topic = this.name(label);
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    this.created.push(topic);
    return topic;
  }

  /** Registers a topic an app created itself (ensureTopic), so it is deleted too. */
  adopt(topic: string): void {
    this.created.push(topic);
  }

  async deleteAll(): Promise<void> {
    if (this.created.length === 0) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const mine = this.created.filter((t) => existing.has(t));
      if (mine.length) await admin.deleteTopics({ topics: mine, timeout: 30_000 });
      // The bench's own consumer groups (readers and taps) are named after its topics.
      const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`regstream-bench.${RUN_ID}.`));
      if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
    } finally {
      await admin.disconnect();
    }
  }
}
