import type { StoredEvent } from '@regstream/domain';

/** Where the outbox relay sends events: Kafka, or the in-process bus in the embedded mode. */
export interface Publisher {
  publish(events: readonly StoredEvent[]): Promise<void>;
  close(): Promise<void>;
  /** Opens the connection ahead of the first publish, where there is one to open. */
  connect?(): Promise<void>;
}

export interface SourceBatch {
  /** Partition name: a Kafka partition number, or 'log' for the store tail. */
  readonly partition: string;
  readonly events: readonly StoredEvent[];
  /** Offset of each event within its partition, parallel to `events`. */
  readonly offsets: readonly string[];
}

export interface SubscribeOptions {
  readonly groupId: string;
  /**
   * The consumer's own checkpoint for a partition (stored with its read model). Messages at or before
   * it are skipped, which makes redelivery after a crash harmless. A source may read it only once per
   * partition and assignment and then go by the offsets the handler accepted, so the handler must skip
   * what its own checkpoint says as well (the projector's and the alert matcher's do, in their
   * transaction): a source errs only towards handing over too much.
   */
  readonly checkpoint?: (partition: string) => Promise<string | null>;
  readonly fromBeginning?: boolean;
  /**
   * How long the group waits for a member that has gone silent before handing its partitions to
   * others (Kafka's session timeout). A member heartbeats while its handler runs, so this bounds how
   * fast a crashed member is replaced, not how long a batch may take.
   */
  readonly sessionTimeoutMs?: number;
  /**
   * How many partitions' batches may be in the handler at once (default: every partition of the
   * topic). Batches of one partition never overlap and keep their order; a handler that is not safe
   * across partitions serialises itself or sets 1.
   */
  readonly concurrency?: number;
}

export type BatchHandler = (batch: SourceBatch) => Promise<void>;

/**
 * A consumer-group subscription: each partition's batches are handed over in order, one at a time;
 * batches of different partitions may be handled concurrently (see `SubscribeOptions.concurrency`).
 */
export interface EventSource {
  run(opts: SubscribeOptions, handler: BatchHandler): Promise<void>;
  stop(): Promise<void>;
}

/** Offsets compare as integers; they are decimal strings so bigint positions survive. */
export function offsetAfter(offset: string, checkpoint: string | null): boolean {
  if (checkpoint === null) return true;
  return BigInt(offset) > BigInt(checkpoint);
}
