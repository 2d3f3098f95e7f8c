import type { StoredEvent } from '@regstream/domain';
import { type Consumer, Kafka, type KafkaConfig, logLevel, type Producer } from 'kafkajs';
import { type BatchHandler, type EventSource, offsetAfter, type Publisher, type SubscribeOptions } from '../types';
import { fromKafkaMessage, toKafkaMessage } from './cloudevents';

export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly topic: string;
  readonly partitions?: number;
}

export function kafkaClient(s: KafkaSettings, extra: Partial<KafkaConfig> = {}): Kafka {
  return new Kafka({
    clientId: s.clientId,
    brokers: [...s.brokers],
    logLevel: logLevel.ERROR,
    retry: { retries: 10, initialRetryTime: 200, maxRetryTime: 5000 },
    ...extra,
  });
}

/** Creates the event topic if missing and waits for partition leaders (KRaft auto-create is unreliable). */
export async function ensureTopic(kafka: Kafka, topic: string, numPartitions = 6): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Idempotent producer with acks from all in-sync replicas. KafkaJS needs maxInFlightRequests 1 for
 * idempotence; that also keeps each stream's order on retries.
 */
export class KafkaPublisher implements Publisher {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
  ) {}

  private async connected(): Promise<Producer> {
    if (!this.producer) {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
      await p.connect();
      this.producer = p;
    }
    return this.producer;
  }

  async publish(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    const producer = await this.connected();
    try {
      await producer.send({ topic: this.topic, acks: -1, messages: events.map(toKafkaMessage) });
    } catch (e) {
      // A broken connection leaves the producer unusable; start afresh on the next batch.
      this.producer = null;
      await producer.disconnect().catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = null;
  }
}

/**
 * A consumer-group subscription with eachBatch. The consumer's own checkpoint (kept in its database
 * transaction) decides what is new; Kafka's committed offset only saves re-reading.
 */
export class KafkaEventSource implements EventSource {
  private consumer: Consumer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
  ) {}

  async run(opts: SubscribeOptions, handler: BatchHandler): Promise<void> {
    const consumer = this.kafka.consumer({ groupId: opts.groupId, sessionTimeout: 10000, heartbeatInterval: 1000, maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: opts.fromBeginning ?? true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (!payload.isRunning() || payload.isStale()) return;
        const partition = String(batch.partition);
        const checkpoint = opts.checkpoint ? await opts.checkpoint(partition) : null;
        const fresh = batch.messages.filter((m) => offsetAfter(m.offset, checkpoint));
        if (fresh.length > 0) {
          await handler({ partition, events: fresh.map(fromKafkaMessage), offsets: fresh.map((m) => m.offset) });
        }
        const last = batch.messages[batch.messages.length - 1];
        if (last) {
          payload.resolveOffset(last.offset);
          await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() }]);
        }
        await payload.commitOffsetsIfNecessary();
        await payload.heartbeat();
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}
