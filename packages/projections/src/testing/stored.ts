import type { AnyEnvelope, StoredEvent } from '@regstream/domain';
import { seeded, shuffle } from './random';

/** Envelopes as the store would return them: positions in the given order, stream versions per subject. */
export function toStored(envelopes: readonly AnyEnvelope[], recordedtime = '2026-11-29T00:00:00.000Z'): StoredEvent[] {
  const versions = new Map<string, number>();
  return envelopes.map((e, i) => {
    const v = (versions.get(e.subject) ?? 0) + 1;
    versions.set(e.subject, v);
    return { ...e, recordedtime, streamversion: v, position: String(i + 1) };
  });
}

/** The in-process bus's partitioner (FNV-1a on the stream id). */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

export interface TestBatch {
  readonly partition: string;
  readonly events: StoredEvent[];
  readonly offsets: string[];
}

/**
 * Splits a log into partitions by stream (each stream's order kept, like Kafka) and hands the
 * partitions out in a seeded random interleaving of random-sized batches.
 */
export function interleave(
  events: readonly StoredEvent[],
  opts: { partitions?: number; seed?: number; maxBatch?: number; minBatch?: number; /** Partitions take turns (consumers keeping pace, as on a healthy broker). */ evenly?: boolean } = {},
): TestBatch[] {
  const n = opts.partitions ?? 6;
  const rnd = seeded(opts.seed ?? 1);
  const queues: StoredEvent[][] = Array.from({ length: n }, () => []);
  for (const e of events) queues[partitionOf(e.subject, n)]?.push(e);
  const next = Array.from({ length: n }, () => 0);
  const out: TestBatch[] = [];
  const max = opts.maxBatch ?? 50;
  const min = Math.min(opts.minBatch ?? 1, max);
  for (;;) {
    const open = queues.map((q, i) => (next[i] as number) < q.length ? i : -1).filter((i) => i >= 0);
    if (open.length === 0) break;
    const p: number = (opts.evenly ? (open.find((i) => i >= out.length % n) ?? open[0]) : shuffle(rnd, open)[0]) ?? 0;
    const q = queues[p] as StoredEvent[];
    const from = next[p] as number;
    const size = min + Math.floor(rnd() * (max - min + 1));
    const slice = q.slice(from, from + size);
    next[p] = from + slice.length;
    out.push({ partition: String(p), events: slice, offsets: slice.map((_, i) => String(from + i)) });
  }
  return out;
}
