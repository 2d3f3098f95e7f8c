import type { AnyEnvelope } from '@regstream/domain';
import { toRowValues } from '@regstream/event-store';
import { type GenEvent, generateHistory, hashString, toEnvelope } from './generator';
import type { LoadRequest } from './loadgen';

/**
 * Splits a history between clients by stream: each stream is written by exactly one client, in
 * history order, so every client's requests stay valid whatever the interleaving (no version races).
 */
export function partitionByStream(events: Iterable<GenEvent>, clients: number): GenEvent[][] {
  const out: GenEvent[][] = Array.from({ length: clients }, () => []);
  for (const e of events) out[hashString(e.subject) % clients]?.push(e);
  return out;
}

export function history(seed: number, events: number, namespace: string, span?: { from: string; to: string }): GenEvent[] {
  return [...generateHistory({ seed, events, namespace, ...(span ? { span } : {}) })];
}

/** A per-worker cursor over prepared items; the load generator calls next(worker). */
export class Queues<T> {
  private readonly pos: number[];
  constructor(readonly queues: readonly (readonly T[])[]) {
    this.pos = queues.map(() => 0);
  }
  next = (w: number): T | null => {
    const q = this.queues[w];
    const i = this.pos[w] ?? 0;
    if (!q || i >= q.length) return null;
    this.pos[w] = i + 1;
    return q[i] as T;
  };
  get taken(): number {
    return this.pos.reduce((a, b) => a + b, 0);
  }
  get total(): number {
    return this.queues.reduce((a, q) => a + q.length, 0);
  }
}

export function chunk<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

/** The rows the store would insert for these events (same values, recorded now). */
export class RowMaker {
  private readonly versions = new Map<string, number>();
  private readonly recorded = new Date().toISOString();

  row(e: GenEvent): unknown[] {
    return this.rowOf(toEnvelope(e));
  }

  rowOf(env: AnyEnvelope): unknown[] {
    const v = (this.versions.get(env.subject) ?? 0) + 1;
    this.versions.set(env.subject, v);
    return toRowValues(env, v, this.recorded, (x) => JSON.stringify(x));
  }
}

/** The same table as the store's `events` (columns, types, indexes), in a schema of its own. */
export const RAW_TABLE_DDL = [
  `CREATE SCHEMA IF NOT EXISTS bench_raw`,
  `CREATE TABLE IF NOT EXISTS bench_raw.events (
    global_position bigserial PRIMARY KEY,
    transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
    event_id text NOT NULL, stream_id text NOT NULL, stream_version integer NOT NULL, type text NOT NULL,
    schema_version integer NOT NULL, source text NOT NULL, time text NOT NULL, valid_time text NOT NULL,
    known_time text NOT NULL, recorded_time text NOT NULL, citation jsonb, idempotency_key text,
    correlation_id text, causation_id text, data jsonb NOT NULL)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS raw_events_event_id ON bench_raw.events (event_id)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS raw_events_stream_version ON bench_raw.events (stream_id, stream_version)`,
  `CREATE UNIQUE INDEX IF NOT EXISTS raw_events_idempotency_key ON bench_raw.events (idempotency_key) WHERE idempotency_key IS NOT NULL`,
  `CREATE INDEX IF NOT EXISTS raw_events_commit_order ON bench_raw.events (transaction_id, global_position)`,
];

export const RAW_COLUMNS =
  'event_id, stream_id, stream_version, type, schema_version, source, time, valid_time, known_time, recorded_time, citation, idempotency_key, correlation_id, causation_id, data';

export const RAW_INSERT_ONE = `INSERT INTO bench_raw.events (${RAW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12, $13, $14, $15::jsonb)`;

export const RAW_INSERT_MANY = `INSERT INTO bench_raw.events (${RAW_COLUMNS})
  SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[],
                       $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[], $14::text[], $15::jsonb[])`;

export function columns(rows: readonly unknown[][]): unknown[][] {
  return Array.from({ length: 15 }, (_, i) => rows.map((r) => r[i]));
}

/**
 * Hands events to any free worker while never letting two workers write one stream at once: each
 * stream's events go out in history order, one in flight at a time (what real writers of different
 * instruments look like). A worker's previous stream is released when it asks for its next event.
 */
export class StreamDispatcher<T> {
  private readonly streams = new Map<string, { items: T[]; head: number }>();
  private readonly ready: string[] = [];
  private readyHead = 0;
  private readonly holding = new Map<number, string>();
  private readonly waiters: (() => void)[] = [];
  private pending = 0;

  constructor(items: readonly T[], streamOf: (t: T) => string) {
    for (const it of items) {
      const s = streamOf(it);
      let q = this.streams.get(s);
      if (!q) {
        q = { items: [], head: 0 };
        this.streams.set(s, q);
        this.ready.push(s);
      }
      q.items.push(it);
      this.pending += 1;
    }
  }

  next = async (w: number): Promise<T | null> => {
    const held = this.holding.get(w);
    if (held !== undefined) {
      this.holding.delete(w);
      const q = this.streams.get(held);
      if (q && q.head < q.items.length) {
        this.ready.push(held);
        this.waiters.shift()?.();
      }
    }
    for (;;) {
      if (this.readyHead < this.ready.length) {
        const s = this.ready[this.readyHead++] as string;
        const q = this.streams.get(s) as { items: T[]; head: number };
        const it = q.items[q.head++] as T;
        this.pending -= 1;
        this.holding.set(w, s);
        return it;
      }
      if (this.pending === 0) {
        // Wake everyone waiting: nothing will ever become ready again.
        while (this.waiters.length) this.waiters.shift()?.();
        return null;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  };
}

/**
 * Batches of up to `size` events in history order. A batch closes early before a correction of a
 * stance or codebook stream whose target is in the same batch: the ingest service checks such targets
 * against stored events only (an instrument stream's decider does see earlier events of the batch).
 */
export function batchesOf(events: readonly GenEvent[], size: number): GenEvent[][] {
  const out: GenEvent[][] = [];
  let cur: GenEvent[] = [];
  let ids = new Set<string>();
  for (const e of events) {
    const target = (e.type === 'RecordCorrected' || e.type === 'RecordRetracted') && !e.subject.startsWith('instrument-') ? String(e.data['targetEventId']) : null;
    if (cur.length >= size || (target !== null && ids.has(target))) {
      out.push(cur);
      cur = [];
      ids = new Set();
    }
    cur.push(e);
    ids.add(e.id);
  }
  if (cur.length) out.push(cur);
  return out;
}

export const postBody = (e: GenEvent | readonly GenEvent[]): LoadRequest =>
  Array.isArray(e)
    ? { method: 'POST', path: '/v1/events', body: Buffer.from(JSON.stringify({ events: e })), events: e.length }
    : { method: 'POST', path: '/v1/events', body: Buffer.from(JSON.stringify(e)), events: 1 };
