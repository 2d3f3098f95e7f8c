import type { AnyEnvelope, StoredEvent } from '@regstream/domain';

/** Current version of a stream = number of events in it; 0 means the stream does not exist. */
export type ExpectedVersion = number | 'any' | 'no_stream' | 'exists';

export interface AppendRequest {
  readonly streamId: string;
  readonly events: readonly AnyEnvelope[];
  readonly expectedVersion?: ExpectedVersion;
}

export interface AppendOptions {
  /** Batch-level idempotency (the Idempotency-Key header). */
  readonly idempotencyKey?: string;
  /** Hash of the request body, so that a reused key with a different body is refused. */
  readonly requestHash?: string;
  /** Injected clock for the recorded time. */
  readonly now?: Date;
}

export interface AppendedEvent {
  readonly id: string;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly position: string;
  /** True when this event was already stored: nothing new was written. */
  readonly duplicate: boolean;
}

export interface AppendResult {
  readonly events: readonly AppendedEvent[];
  /** True when the whole request was answered from an earlier identical one. */
  readonly replayed: boolean;
  readonly written: number;
}

/**
 * A position readers can trust. On PostgreSQL it is (transaction id, global position): events are
 * read in commit order behind the xmin horizon, so a late commit is never skipped. On SQLite and in
 * memory there is a single writer, and the transaction part equals the position.
 */
export interface Checkpoint {
  readonly tx: string;
  readonly pos: string;
}

export const START: Checkpoint = { tx: '0', pos: '0' };

export function encodeCheckpoint(c: Checkpoint): string {
  return `${c.tx}-${c.pos}`;
}

export function decodeCheckpoint(s: string): Checkpoint | null {
  const m = /^(\d{1,20})-(\d{1,20})$/.exec(s);
  return m ? { tx: m[1] as string, pos: m[2] as string } : null;
}

export interface ReadAllResult {
  readonly events: StoredEvent[];
  /** Where the next read starts; equal to the input when nothing new is visible. */
  readonly checkpoint: Checkpoint;
}

export interface ReadAllFilter {
  readonly streamId?: string;
  readonly types?: readonly string[];
}

export interface OutboxBatch {
  readonly events: StoredEvent[];
  /** Publish, then call ack; on failure call release. Exactly one of the two. */
  ack(): Promise<void>;
  release(): Promise<void>;
  /**
   * Claims the rows that follow this batch while this one is still being published, so the next batch
   * is read while the broker works on this one. Optional: without it a relay moves one batch at a
   * time. Publish the batch it returns only after this one was acked; release it, unpublished, when
   * this one was released or its ack failed (its events would overtake this batch's).
   */
  claimNext?(limit: number): Promise<OutboxBatch | null>;
}

/** An event found by `EventStore.locate`. */
export interface LocatedEvent {
  readonly id: string;
  readonly streamId: string;
  readonly streamVersion: number;
  readonly idempotencyKey: string | null;
}

export interface EventStore {
  readonly driver: 'postgres' | 'sqlite' | 'memory';
  append(streamId: string, events: readonly AnyEnvelope[], expectedVersion?: ExpectedVersion, opts?: AppendOptions): Promise<AppendResult>;
  /** Appends to several streams in one transaction: all or nothing. */
  appendBatch(requests: readonly AppendRequest[], opts?: AppendOptions): Promise<AppendResult>;
  /**
   * The stored answer to an earlier request with this idempotency key, or null. Lets callers skip
   * work (validation against current state) for a request that was already answered.
   */
  findIdempotent(key: string, requestHash?: string): Promise<AppendResult | null>;
  readAll(after: Checkpoint, limit: number, filter?: ReadAllFilter): Promise<ReadAllResult>;
  readStream(streamId: string, fromVersion?: number): Promise<StoredEvent[]>;
  /** Several whole streams in one round trip (what a batch needs to decide). */
  readStreams(streamIds: readonly string[]): Promise<Map<string, StoredEvent[]>>;
  streamVersion(streamId: string): Promise<number>;
  /**
   * Where events are, by event id or by event idempotency key (both unique in the log): an index lookup
   * whatever the length of their streams. What a decision needs when it asks only whether some events
   * are in a stream, instead of reading the stream.
   */
  locate(ids: readonly string[], idempotencyKeys?: readonly string[]): Promise<LocatedEvent[]>;
  /** Takes up to `limit` unpublished events in position order, holding them until ack or release. */
  claimOutbox(limit: number): Promise<OutboxBatch | null>;
  outboxSize(): Promise<number>;
  count(): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class ConcurrencyError extends Error {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(`stream ${streamId} is at version ${actual}, expected ${String(expected)}`);
    this.name = 'ConcurrencyError';
  }
}

export class IdempotencyKeyReusedError extends Error {
  constructor(readonly key: string) {
    super(`idempotency key ${key} was used with a different request`);
    this.name = 'IdempotencyKeyReusedError';
  }
}

export function checkExpected(streamId: string, expected: ExpectedVersion | undefined, actual: number): void {
  if (expected === undefined || expected === 'any') return;
  const ok = expected === 'no_stream' ? actual === 0 : expected === 'exists' ? actual > 0 : actual === expected;
  if (!ok) throw new ConcurrencyError(streamId, expected, actual);
}

/** Groups requests so each stream appears once, preserving order; expected versions must agree. */
export function mergeRequests(requests: readonly AppendRequest[]): AppendRequest[] {
  const byStream = new Map<string, { expectedVersion?: ExpectedVersion; events: AnyEnvelope[] }>();
  for (const r of requests) {
    const stray = r.events.find((e) => e.subject !== r.streamId);
    if (stray) throw new TypeError(`event ${stray.id} belongs to stream ${stray.subject}, not ${r.streamId}`);
    const cur = byStream.get(r.streamId);
    if (!cur) {
      byStream.set(r.streamId, { ...(r.expectedVersion !== undefined ? { expectedVersion: r.expectedVersion } : {}), events: [...r.events] });
    } else {
      // A later request for the same stream in one batch continues where the earlier one ends.
      cur.events.push(...r.events);
    }
  }
  return [...byStream.entries()].map(([streamId, v]) => ({ streamId, events: v.events, ...(v.expectedVersion !== undefined ? { expectedVersion: v.expectedVersion } : {}) }));
}
