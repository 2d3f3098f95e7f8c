import type { StoredEvent } from '@regstream/domain';

/** Where the outbox relay sends events: Kafka, or the in-process bus in the embedded mode. */
export interface Publisher {
  publish(events: readonly StoredEvent[]): Promise<void>;
  close(): Promise<void>;
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
   * it are skipped, which makes redelivery after a crash harmless.
   */
  readonly checkpoint?: (partition: string) => Promise<string | null>;
  readonly fromBeginning?: boolean;
}

export type BatchHandler = (batch: SourceBatch) => Promise<void>;

/** A consumer-group subscription: each batch is handed over in partition order. */
export interface EventSource {
  run(opts: SubscribeOptions, handler: BatchHandler): Promise<void>;
  stop(): Promise<void>;
}

/** Offsets compare as integers; they are decimal strings so bigint positions survive. */
export function offsetAfter(offset: string, checkpoint: string | null): boolean {
  if (checkpoint === null) return true;
  return BigInt(offset) > BigInt(checkpoint);
}
