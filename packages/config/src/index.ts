import { z } from 'zod';

/**
 * Typed configuration. No variable set at all means the embedded default (SQLite, in-process bus
 * and queue); DATABASE_URL, KAFKA_BROKERS and REDIS_URL switch to the real services.
 */
const url = (protocols: string[]) =>
  z.string().refine((s) => {
    try {
      return protocols.includes(new URL(s).protocol);
    } catch {
      return false;
    }
  }, `expected a URL with scheme ${protocols.join(' or ')}`);

const brokerList = z
  .string()
  .refine((s) => s.split(',').every((b) => /^[A-Za-z0-9.-]+:\d{1,5}$/.test(b.trim())), 'expected host:port[,host:port...]');

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
  KAFKA_BROKERS: brokerList.optional(),
  KAFKA_CLIENT_ID: z.string().min(1).default('regstream'),
  KAFKA_TOPIC_EVENTS: z.string().min(1).default('regstream.regulatory-events.v1'),
  KAFKA_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(6),
  REDIS_URL: url(['redis:', 'rediss:']).optional(),
  REGSTREAM_DATA_DIR: z.string().min(1).default('.regstream'),
  REGSTREAM_CORPUS_DIR: z.string().min(1).optional(),
  REGSTREAM_IMPORT_CORPUS: bool.default(true),
  /** `off` leaves the outbox relay to a separate process (apps/ingest/dist/relay-main.js). */
  REGSTREAM_RELAY: z.enum(['on', 'off']).default('on'),
  /**
   * Fallback poll of the outbox by the relay process. It is woken at once by the
   * `regstream_outbox` notification of each append; the poll only catches a lost notification.
   */
  REGSTREAM_RELAY_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
  /**
   * Relay process: events per claim and per produce. Each batch costs a claim, a produce with acks
   * from all replicas and a commit; at 500 the relay fell below the batched append rate.
   */
  REGSTREAM_RELAY_BATCH_SIZE: z.coerce.number().int().min(1).max(10_000).default(2000),
  /**
   * Relay process: while appends keep coming, the least time between two of its batches, so that a
   * wake-up per append does not cost a claim, a produce and a commit per append (see OutboxRelay).
   */
  REGSTREAM_RELAY_COALESCE_MS: z.coerce.number().int().min(0).max(1000).default(10),
  /** Kafka consumer group of the projector; default `projector.<KAFKA_TOPIC_EVENTS>` (see consumerGroupId). */
  REGSTREAM_PROJECTOR_GROUP_ID: z.string().min(1).max(200).optional(),
  /**
   * How long the projector group waits for a silent member before giving its partitions to others.
   * Members heartbeat while they apply a batch, so this bounds failover, not batch length. Kafka's
   * broker accepts 6 s to 30 min by default.
   */
  REGSTREAM_PROJECTOR_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(1_800_000).default(30_000),
  REGSTREAM_LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
  REGSTREAM_WEBHOOK_ALLOWLIST: z.string().default(''),
  REGSTREAM_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
});
export type Env = z.infer<typeof EnvSchema>;

export type RunMode = 'embedded' | 'distributed';

export interface RegstreamConfig extends Env {
  readonly mode: RunMode;
}

export class ConfigError extends Error {
  constructor(readonly variables: string[], message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Names every missing or malformed variable, so start-up stops with a message a user can act on. */
export function loadConfig(env: Record<string, string | undefined> = process.env): RegstreamConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const vars = parsed.error.issues.map((i) => String(i.path[0]));
    const lines = parsed.error.issues.map((i) => `  ${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(vars, `Invalid configuration:\n${lines.join('\n')}`);
  }
  const c = parsed.data;
  const real = [c.DATABASE_URL, c.KAFKA_BROKERS, c.REDIS_URL].filter((v) => v !== undefined).length;
  if (real > 0 && real < 3) {
    const missing = (['DATABASE_URL', 'KAFKA_BROKERS', 'REDIS_URL'] as const).filter((k) => c[k] === undefined);
    throw new ConfigError(
      [...missing],
      `Invalid configuration:\n  distributed mode needs DATABASE_URL, KAFKA_BROKERS and REDIS_URL together; missing ${missing.join(', ')}`,
    );
  }
  return { ...c, mode: real === 3 ? 'distributed' : 'embedded' };
}

/**
 * The Kafka consumer group of a role (`projector`...): the explicit setting if there is one, else
 * `<role>.<topic>`, so processes consuming different topics on one broker (other deployments, test
 * runs) never share a group and never trigger each other's rebalances.
 */
export function consumerGroupId(role: string, topic: string, explicit?: string): string {
  return explicit ?? `${role}.${topic}`;
}

/** Validation hook for @nestjs/config's `validate` option. */
export function validateEnv(env: Record<string, unknown>): RegstreamConfig {
  return loadConfig(Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v)])));
}

export const CONFIG_VARIABLES = Object.keys(EnvSchema.shape);
