import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { RegstreamConfig } from '@regstream/config';
import { createDataSource, type EventStore, PostgresEventStore, SqliteEventStore, type StoreTarget } from '@regstream/event-store';
import { ApiKeyService, InMemoryRateLimiter, type RateLimiter, type ReadinessCheck, RedisRateLimiter } from '@regstream/http';
import { ensureTopic, type EventSource, InProcessBus, KafkaEventSource, kafkaClient, KafkaPublisher, type Publisher } from '@regstream/messaging';
import IORedis from 'ioredis';
import type { Kafka } from 'kafkajs';
import type { DataSource } from 'typeorm';
import { allMigrations } from './migrations';

export interface Infrastructure {
  readonly config: RegstreamConfig;
  readonly dataSource: DataSource;
  readonly store: EventStore;
  /** Where the relay publishes: the Kafka topic, or the in-process bus. */
  readonly publisher: Publisher;
  /** A new consumer of the distribution log. */
  source(): EventSource;
  readonly bus: InProcessBus | null;
  readonly kafka: Kafka | null;
  readonly redis: IORedis | null;
  readonly apiKeys: ApiKeyService;
  readonly rateLimiter: RateLimiter;
  readonly readiness: ReadinessCheck[];
  readonly dataDir: string;
  close(): Promise<void>;
}

export function storeTarget(config: RegstreamConfig): StoreTarget {
  return config.DATABASE_URL
    ? { kind: 'postgres', url: config.DATABASE_URL }
    : { kind: 'sqlite', path: join(resolve(config.REGSTREAM_DATA_DIR), 'regstream.db') };
}

/**
 * Builds the adapters for the configured mode: SQLite, in-process bus and inline queue when nothing
 * is set; PostgreSQL, Kafka and Redis when DATABASE_URL, KAFKA_BROKERS and REDIS_URL are.
 */
export async function createInfrastructure(config: RegstreamConfig, opts: { migrate?: boolean } = {}): Promise<Infrastructure> {
  const dataDir = resolve(config.REGSTREAM_DATA_DIR);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const target = storeTarget(config);
  const dataSource = createDataSource(target, { migrations: allMigrations(target.kind) });
  await dataSource.initialize();
  if (opts.migrate ?? true) await dataSource.runMigrations({ transaction: 'each' });
  const store = target.kind === 'postgres' ? new PostgresEventStore(dataSource) : new SqliteEventStore(dataSource);
  const readiness: ReadinessCheck[] = [{ name: 'database', check: () => store.ping() }];
  const apiKeys = new ApiKeyService(dataSource);

  if (config.mode === 'distributed' && config.KAFKA_BROKERS && config.REDIS_URL) {
    const kafka = kafkaClient({ brokers: config.KAFKA_BROKERS.split(',').map((b) => b.trim()), clientId: config.KAFKA_CLIENT_ID, topic: config.KAFKA_TOPIC_EVENTS });
    await ensureTopic(kafka, config.KAFKA_TOPIC_EVENTS, config.KAFKA_PARTITIONS);
    const redis = new IORedis(config.REDIS_URL, { maxRetriesPerRequest: null, lazyConnect: false });
    const publisher = new KafkaPublisher(kafka, config.KAFKA_TOPIC_EVENTS);
    const admin = kafka.admin();
    let adminConnected = false;
    readiness.push(
      {
        name: 'kafka',
        check: async () => {
          if (!adminConnected) {
            await admin.connect();
            adminConnected = true;
          }
          await admin.fetchTopicMetadata({ topics: [config.KAFKA_TOPIC_EVENTS] });
        },
      },
      { name: 'redis', check: async () => void (await redis.ping()) },
    );
    return {
      config,
      dataSource,
      store,
      publisher,
      source: () => new KafkaEventSource(kafka, config.KAFKA_TOPIC_EVENTS),
      bus: null,
      kafka,
      redis,
      apiKeys,
      rateLimiter: new RedisRateLimiter(redis, config.REGSTREAM_RATE_LIMIT_PER_MINUTE),
      readiness,
      dataDir,
      close: async () => {
        await publisher.close();
        if (adminConnected) await admin.disconnect();
        redis.disconnect();
        await store.close();
      },
    };
  }

  // The store is the bus's memory: after a restart each consumer is refilled from its own checkpoint.
  const bus = new InProcessBus(config.KAFKA_PARTITIONS, async (after, limit) => (await store.readAll({ tx: after, pos: after }, limit)).events);
  return {
    config,
    dataSource,
    store,
    publisher: bus,
    source: () => bus.source(),
    bus,
    kafka: null,
    redis: null,
    apiKeys,
    rateLimiter: new InMemoryRateLimiter(config.REGSTREAM_RATE_LIMIT_PER_MINUTE),
    readiness,
    dataDir,
    close: async () => {
      await bus.close();
      await store.close();
    },
  };
}
