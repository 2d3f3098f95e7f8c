import type { StoredEvent } from '@regstream/domain';
import { type Consumer, type ICustomPartitioner, Kafka, type KafkaConfig, logLevel, Partitioners, type Producer } from 'kafkajs';
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
 * KafkaJS's default partitioner (murmur2 of the key, as the Java client), remembered per key: it
 * hashes the key and filters the partition list for every message, and a relay batch repeats the
 * same few hundred streams. Same partition for the same key and partition count as the default.
 */
export const rememberingPartitioner: ICustomPartitioner = () => {
  const partitioner = Partitioners.DefaultPartitioner();
  const known = new Map<string, number>();
  let partitions = -1;
  return (args) => {
    const { message, partitionMetadata } = args;
    const key = message.key;
    if (typeof key !== 'string' || (message.partition !== undefined && message.partition !== null)) return partitioner(args);
    if (partitionMetadata.length !== partitions || known.size >= 100_000) {
      known.clear();
      partitions = partitionMetadata.length;
    }
    let p = known.get(key);
    if (p === undefined) {
      p = partitioner(args);
      known.set(key, p);
    }
    return p;
  };
};

/**
 * Messages per produce request. KafkaJS groups a request's messages per partition by copying the
 * partition's array for each message, which grows with the square of the request: 2,000 messages in
 * one request cost more CPU per message than two requests of 1,000 (see docs/benchmarks.md).
 */
export const MAX_MESSAGES_PER_REQUEST = 1000;

/**
 * Idempotent producer with acks from all in-sync replicas. KafkaJS needs maxInFlightRequests 1 for
 * idempotence; that also keeps each stream's order on retries.
 */
export class KafkaPublisher implements Publisher {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly perRequest = MAX_MESSAGES_PER_REQUEST,
  ) {}

  private async connected(): Promise<Producer> {
    if (!this.producer) {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false, createPartitioner: rememberingPartitioner });
      await p.connect();
      this.producer = p;
    }
    return this.producer;
  }

  /** Connects now rather than on the first publish (a relay is then ready when it says so). */
  async connect(): Promise<void> {
    await this.connected();
  }

  /**
   * Resolves once the broker acknowledged every event. In requests of `perRequest` messages, one after
   * the other: a failure after some were acknowledged means the batch is published again (at least
   * once, as after any failed publish), first-seen order per stream intact.
   */
  async publish(events: readonly StoredEvent[]): Promise<void> {
    if (events.length === 0) return;
    const producer = await this.connected();
    try {
      for (let i = 0; i < events.length; i += this.perRequest) {
        await producer.send({ topic: this.topic, acks: -1, messages: events.slice(i, i + this.perRequest).map(toKafkaMessage) });
      }
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

/** Kafka's default; a member that heartbeats while it works can afford it, and a dead one is replaced within it. */
export const DEFAULT_SESSION_TIMEOUT_MS = 30_000;
/**
 * Kafka's committed offsets only spare a restarted or rebalanced member some re-reading (the
 * consumer's own checkpoint decides what is new), so they are committed at most this often instead of
 * costing a round trip per batch.
 */
export const OFFSET_COMMIT_INTERVAL_MS = 5_000;

/**
 * Runs `work` while heartbeating every `everyMs`, so a batch that takes longer than the session
 * timeout (a slow transaction, a wait behind other partitions) does not get its member evicted.
 * A failed heartbeat (the group is rebalancing, the member is unknown) is left to KafkaJS: its own
 * heartbeat after the batch meets the same error and rejoins the group.
 */
export async function whileHeartbeating<T>(beat: () => Promise<void>, everyMs: number, work: () => Promise<T>): Promise<T> {
  // (A cast, not an annotation: the closure assigns it, which flow analysis does not see.)
  let inFlight = null as Promise<void> | null;
  const timer = setInterval(() => {
    if (inFlight) return;
    inFlight = beat()
      .catch(() => undefined)
      .finally(() => {
        inFlight = null;
      });
  }, everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
    await inFlight;
  }
}

/**
 * The last offset the handler accepted per partition, since the member last joined its group. It can
 * stand in for the consumer's stored checkpoint because only this member writes that checkpoint while it
 * holds the partition, and a checkpoint never moves back. A stale value after a lost partition is
 * cleared by the rejoin that hands the partition over; the handler's own checkpoint, read in its
 * transaction, stays the authority in any case (`SubscribeOptions.checkpoint`).
 */
export class HandedOffsets {
  private readonly last = new Map<string, string>();

  /** The offset, or undefined when the stored checkpoint must be read. */
  get(partition: string): string | undefined {
    return this.last.get(partition);
  }

  accepted(partition: string, offset: string): void {
    const cur = this.last.get(partition);
    if (cur === undefined || BigInt(offset) > BigInt(cur)) this.last.set(partition, offset);
  }

  clear(): void {
    this.last.clear();
  }
}

/**
 * A consumer-group subscription with eachBatch. The consumer's own checkpoint (kept in its database
 * transaction) decides what is new; Kafka's committed offset only saves re-reading, so it is
 * committed every few seconds, not per batch. The partitions of the topic are handled concurrently
 * (each partition's batches in order), and the member heartbeats while a batch is being handled.
 */
export class KafkaEventSource implements EventSource {
  private consumer: Consumer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
  ) {}

  private async partitionCount(): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [this.topic] });
      return Math.max(1, meta.topics[0]?.partitions.length ?? 1);
    } finally {
      await admin.disconnect();
    }
  }

  async run(opts: SubscribeOptions, handler: BatchHandler): Promise<void> {
    const sessionTimeout = opts.sessionTimeoutMs ?? DEFAULT_SESSION_TIMEOUT_MS;
    // Several heartbeats per session, so one lost on a busy event loop does not evict the member.
    const heartbeatInterval = Math.max(100, Math.min(3000, Math.floor(sessionTimeout / 10)));
    const concurrency = opts.concurrency ?? (await this.partitionCount());
    const consumer = this.kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout,
      // A rebalance waits for members to finish their batch; never shorter than the session.
      rebalanceTimeout: Math.max(60_000, sessionTimeout),
      heartbeatInterval,
      maxWaitTimeInMs: 100,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topic: this.topic, fromBeginning: opts.fromBeginning ?? true });
    // Checked and moved synchronously, so of the partitions finishing at once only one commits (for all).
    let commitDue = Date.now() + OFFSET_COMMIT_INTERVAL_MS;
    // The checkpoint is read once per partition after each (re)assignment; after that, the last offset
    // the handler accepted is it. Without a read to await, the batches of one fetch reach the handler in
    // the same tick, and a handler that groups them (the projector) writes them in one transaction.
    const handed = new HandedOffsets();
    consumer.on(consumer.events.GROUP_JOIN, () => handed.clear());
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: concurrency,
      eachBatch: async (payload) => {
        const { batch } = payload;
        if (!payload.isRunning() || payload.isStale()) return;
        const last = batch.messages[batch.messages.length - 1];
        if (!last) return;
        const partition = String(batch.partition);
        await whileHeartbeating(
          () => payload.heartbeat(),
          heartbeatInterval,
          async () => {
            const read = opts.checkpoint;
            const checkpoint = read ? (handed.get(partition) ?? (await read(partition))) : null;
            const fresh = batch.messages.filter((m) => offsetAfter(m.offset, checkpoint));
            if (fresh.length > 0) await handler({ partition, events: fresh.map(fromKafkaMessage), offsets: fresh.map((m) => m.offset) });
            handed.accepted(partition, last.offset);
          },
        );
        payload.resolveOffset(last.offset);
        if (Date.now() >= commitDue) {
          commitDue = Date.now() + OFFSET_COMMIT_INTERVAL_MS;
          // A failed commit costs only re-reading (filtered by the checkpoint); the batch is done.
          await payload.commitOffsetsIfNecessary(payload.uncommittedOffsets()).catch(() => undefined);
        }
      },
    });
  }

  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = null;
  }
}
