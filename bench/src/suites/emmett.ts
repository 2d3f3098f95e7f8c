import { performance } from 'node:perf_hooks';
import { dumbo, rawSql, type SQL } from '@event-driven-io/dumbo';
import { STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import { getPostgreSQLEventStore, postgreSQLRawBatchSQLProjection, readMessagesBatch, rebuildPostgreSQLProjections } from '@event-driven-io/emmett-postgresql';
import type { AnyEnvelope } from '@regstream/domain';
import { type Checkpoint, openEventStore, START } from '@regstream/event-store';
import { Pool } from 'pg';
import type { BenchContext } from '../context';
import { toEnvelope } from '../generator';
import { type CallsResult, combine, runCalls } from '../loadgen';
import { memoryOf } from '../procs';
import type { Row } from '../report';
import { BenchDatabase } from '../services';
import { Recorder } from '../stats';
import { chunk, columns, history, Queues, RAW_INSERT_MANY, RAW_INSERT_ONE, RAW_TABLE_DDL, RowMaker, StreamDispatcher } from '../workload';

type EmmettEvent = { type: string; data: Record<string, unknown>; metadata: Record<string, unknown> };

/** The same envelope as an Emmett event: data as data, every other attribute in metadata (same bytes stored). */
function toEmmett(e: AnyEnvelope): EmmettEvent {
  const { data, type, ...attrs } = e;
  return { type, data: data, metadata: { ...attrs } };
}

const GROUP = 'library level: regstream store vs Emmett (PostgreSQL), same database';
const PROJECTION_TYPES = ['InstrumentRegistered', 'InstrumentProposed', 'PositionAdopted', 'PoliticalAgreementReached', 'InstrumentAdopted', 'InstrumentSigned', 'InstrumentPublished', 'InstrumentEnteredIntoForce', 'ProvisionBecameApplicable', 'ApplicationPostponed', 'ApplicationBroughtForward', 'InstrumentAmended', 'InstrumentRevoked', 'InstrumentSuperseded', 'InstrumentLapsed', 'GuidanceIssued', 'StandardPublished', 'StanceCoded', 'RecordCorrected', 'RecordRetracted', 'CodebookPublished'];

/** One multi-row upsert of per-stream counters: the projection every contender runs, batch by batch. */
function counterUpsert(table: string, events: readonly { stream: string; type: string }[]): string | null {
  const agg = new Map<string, { n: number; last: string }>();
  for (const e of events) {
    const a = agg.get(e.stream) ?? { n: 0, last: '' };
    a.n += 1;
    a.last = e.type;
    agg.set(e.stream, a);
  }
  if (agg.size === 0) return null;
  const q = (s: string) => `'${s.replace(/'/g, "''")}'`;
  const values = [...agg].map(([s, a]) => `(${q(s)}, ${a.n}, ${q(a.last)})`).join(', ');
  return `INSERT INTO ${table} (stream_id, n, last_type) VALUES ${values} ON CONFLICT (stream_id) DO UPDATE SET n = ${table}.n + EXCLUDED.n, last_type = EXCLUDED.last_type`;
}

/**
 * regstream's PostgresEventStore and Emmett's PostgreSQL event store at library level, on one database,
 * with the same events: single-event appends from 16 writers, 100-event appends from 4 writers, reading
 * everything in pages of 1,000, and a projection rebuild (the same per-stream counter projection) over
 * the whole log. Each beside raw `pg` doing the same rows.
 */
export async function emmettSuite(ctx: BenchContext): Promise<void> {
  const db = await BenchDatabase.create('peer');
  ctx.cleanup.push(() => db.drop());
  const { store } = await openEventStore({ kind: 'postgres', url: db.url }, { poolSize: 16 });
  ctx.cleanup.push(() => store.close());
  const es = getPostgreSQLEventStore(db.url);
  await es.schema.migrate();
  ctx.cleanup.push(() => es.close());
  for (const s of RAW_TABLE_DDL) await db.query(s);
  for (const t of ['proj_regstream', 'proj_emmett', 'proj_raw']) await db.query(`CREATE TABLE ${t} (stream_id text PRIMARY KEY, n integer NOT NULL, last_type text NOT NULL)`);
  await db.query(`CREATE TABLE proj_checkpoints (name text PRIMARY KEY, position text NOT NULL)`);
  const pool = new Pool({ connectionString: db.url, max: 16 });
  pool.on('error', () => undefined);
  ctx.cleanup.push(() => pool.end());
  const rowMaker = new RowMaker();
  const cap = 300_000;

  // 1. Single-event appends, 16 writers, expected version checked by both stores.
  const singles = history(ctx.seed + 10, ctx.sizes.single16, 'peer1').map((e) => toEnvelope(e));
  ctx.log(`emmett: single-event appends, 16 writers (${singles.length} events)`);
  const rows = new Map(singles.map((e) => [e.id, rowMaker.rowOf(e)] as const));
  const half = Math.ceil(singles.length / 2);
  const parts = { rs: [] as CallsResult[], em: [] as CallsResult[], raw: [] as CallsResult[] };
  const rsVersions = new Map<string, number>();
  const emVersions = new Map<string, number>();
  for (const h of [singles.slice(0, half), singles.slice(half)]) {
    const d1 = new StreamDispatcher(h, (e) => e.subject);
    parts.rs.push(
      await runCalls({
        concurrency: 16,
        durationMs: cap,
        next: d1.next,
        op: async (e) => {
          const v = rsVersions.get(e.subject) ?? 0;
          await store.append(e.subject, [e], v);
          rsVersions.set(e.subject, v + 1);
          return 1;
        },
      }),
    );
    const d2 = new StreamDispatcher(h, (e) => e.subject);
    parts.em.push(
      await runCalls({
        concurrency: 16,
        durationMs: cap,
        next: d2.next,
        op: async (e) => {
          const v = emVersions.get(e.subject) ?? 0;
          await es.appendToStream(e.subject, [toEmmett(e)], { expectedStreamVersion: v === 0 ? STREAM_DOES_NOT_EXIST : BigInt(v) });
          emVersions.set(e.subject, v + 1);
          return 1;
        },
      }),
    );
    const d3 = new StreamDispatcher(h, (e) => e.subject);
    parts.raw.push(
      await runCalls({
        concurrency: 16,
        durationMs: cap,
        next: d3.next,
        op: async (e) => {
          await pool.query(RAW_INSERT_ONE, rows.get(e.id));
          return 1;
        },
      }),
    );
  }
  ctx.rows.push(...trio('single-event appends, 16 writers', 'peer-single', parts, 1.5, ctx));

  // 2. 100-event appends, 4 writers, each append a new stream of 100 events.
  const total = Math.max(0, ctx.sizes.emmettRebuild - singles.length);
  ctx.log(`emmett: 100-event appends, 4 writers (${total} events)`);
  const big = history(ctx.seed + 11, total, 'peer100');
  const streams = chunk(big, 100).map((b, k) => {
    const stream = `batch-${k}`;
    // Library level: the store takes any stream; the envelope keeps its data, only the stream differs.
    return b.map((e) => ({ ...toEnvelope(e), subject: stream }));
  });
  const bigRows = new Map(streams.flat().map((e) => [e.id, rowMaker.rowOf(e)] as const));
  const byWriter = (xs: AnyEnvelope[][]) => Array.from({ length: 4 }, (_, w) => xs.filter((_, i) => i % 4 === w));
  const bhalf = Math.ceil(streams.length / 2);
  const bparts = { rs: [] as CallsResult[], em: [] as CallsResult[], raw: [] as CallsResult[] };
  for (const h of [streams.slice(0, bhalf), streams.slice(bhalf)]) {
    bparts.rs.push(
      await runCalls({
        concurrency: 4,
        durationMs: cap,
        next: new Queues(byWriter(h)).next,
        op: async (b) => {
          await store.append(b[0]?.subject ?? '', b, 'no_stream');
          return b.length;
        },
      }),
    );
    bparts.em.push(
      await runCalls({
        concurrency: 4,
        durationMs: cap,
        next: new Queues(byWriter(h)).next,
        op: async (b) => {
          await es.appendToStream(b[0]?.subject ?? '', b.map(toEmmett), { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
          return b.length;
        },
      }),
    );
    bparts.raw.push(
      await runCalls({
        concurrency: 4,
        durationMs: cap,
        next: new Queues(byWriter(h)).next,
        op: async (b) => {
          await pool.query(RAW_INSERT_MANY, columns(b.map((e) => bigRows.get(e.id) as unknown[])));
          return b.length;
        },
      }),
    );
  }
  ctx.rows.push(...trio('100-event appends, 4 writers', 'peer-batch', bparts, 1.5, ctx));

  // 3. Read everything in pages of 1,000 (each side reads its own copy of the same events).
  ctx.log('emmett: read all in pages of 1,000');
  const executor = dumbo({ connectionString: db.url });
  ctx.cleanup.push(() => executor.close());
  const readRs = await timedPages(async (cp: Checkpoint) => {
    const page = await store.readAll(cp, 1000);
    return { n: page.events.length, next: page.checkpoint };
  }, START);
  const readEm = await timedPages(async (after: bigint) => {
    const r = await readMessagesBatch(executor.execute, { after, batchSize: 1000 });
    return { n: r.messages.length, next: r.currentGlobalPosition };
  }, -1n);
  const readRaw = await timedPages(async (after: string) => {
    const r = await pool.query<{ global_position: string }>(`SELECT * FROM bench_raw.events WHERE global_position > $1 ORDER BY global_position LIMIT 1000`, [after]);
    return { n: r.rows.length, next: r.rows[r.rows.length - 1]?.global_position ?? after };
  }, '0');
  ctx.rows.push(...trio('read all, pages of 1,000', 'peer-read', { rs: [readRs], em: [readEm], raw: [readRaw] }, 5, ctx));

  // 4. Projection rebuild over the whole log: the same counter projection, checkpointed per batch.
  ctx.log('emmett: projection rebuild');
  const projRs = await timedPages(async (cp: Checkpoint) => {
    const page = await store.readAll(cp, 1000);
    if (page.events.length === 0) return { n: 0, next: cp };
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const sql = counterUpsert('proj_regstream', page.events.map((e) => ({ stream: e.subject, type: e.type })));
      if (sql) await client.query(sql);
      await client.query(`INSERT INTO proj_checkpoints (name, position) VALUES ('regstream', $1) ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position`, [
        `${page.checkpoint.tx}-${page.checkpoint.pos}`,
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    return { n: page.events.length, next: page.checkpoint };
  }, START);
  const projRaw = await timedPages(async (after: string) => {
    const r = await pool.query<{ global_position: string; stream_id: string; type: string; data: unknown }>(
      `SELECT * FROM bench_raw.events WHERE global_position > $1 ORDER BY global_position LIMIT 1000`,
      [after],
    );
    if (r.rows.length === 0) return { n: 0, next: after };
    const last = r.rows[r.rows.length - 1]?.global_position ?? after;
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const sql = counterUpsert('proj_raw', r.rows.map((x) => ({ stream: x.stream_id, type: x.type })));
      if (sql) await client.query(sql);
      await client.query(`INSERT INTO proj_checkpoints (name, position) VALUES ('raw', $1) ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position`, [last]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    return { n: r.rows.length, next: last };
  }, '0');
  const projEm = await emmettRebuild(db.url);
  const counts = await db.query<{ t: string; n: string }>(
    `SELECT 'regstream' AS t, sum(n)::text AS n FROM proj_regstream UNION ALL SELECT 'emmett', sum(n)::text FROM proj_emmett UNION ALL SELECT 'raw', sum(n)::text FROM proj_raw`,
  );
  const c = Object.fromEntries(counts.map((r) => [r.t, Number(r.n)]));
  if (c['regstream'] !== c['emmett'] || c['regstream'] !== c['raw']) ctx.notes.push(`projection rebuild: counters differ (regstream ${c['regstream']}, emmett ${c['emmett']}, raw ${c['raw']})`);
  ctx.rows.push(...trio(`projection rebuild (${(c['regstream'] ?? 0).toLocaleString('en-US')} events)`, 'peer-projection', { rs: [projRs], em: [projEm], raw: [projRaw] }, 10, ctx));
  ctx.log(`emmett: bench process peak RSS ${Math.round(memoryOf(process.pid).hwmMb)} MiB`);
}

/** Reads page after page until one comes back empty; each page is one timed call. */
async function timedPages<C>(page: (cursor: C) => Promise<{ n: number; next: C }>, start: C): Promise<CallsResult> {
  const rec = new Recorder();
  let cursor = start;
  let events = 0;
  let calls = 0;
  const t0 = performance.now();
  for (;;) {
    const s = performance.now();
    const r = await page(cursor);
    if (r.n === 0) break;
    rec.record(performance.now() - s);
    events += r.n;
    calls += 1;
    cursor = r.next;
  }
  const elapsedMs = performance.now() - t0;
  return { calls, events, errors: 0, elapsedMs, eventsPerSec: (events * 1000) / elapsedMs, callsPerSec: (calls * 1000) / elapsedMs, latency: rec.summary(), recorder: rec, failures: [] };
}

/** Emmett's own rebuild: its consumer pulls batches of 1,000 and runs a raw-SQL batch projection. */
async function emmettRebuild(url: string): Promise<CallsResult> {
  const rec = new Recorder();
  let events = 0;
  let calls = 0;
  let last = performance.now();
  const projection = postgreSQLRawBatchSQLProjection({
    name: 'bench_counters',
    canHandle: PROJECTION_TYPES,
    evolve: (batch: { type: string; metadata: { streamName: string } }[]): SQL[] => {
      events += batch.length;
      calls += 1;
      const now = performance.now();
      rec.record(now - last);
      last = now;
      const sql = counterUpsert(
        'proj_emmett',
        batch.map((e) => ({ stream: e.metadata.streamName, type: e.type })),
      );
      return sql ? [rawSql(sql)] : [];
    },
  } as unknown as Parameters<typeof postgreSQLRawBatchSQLProjection>[0]);
  const t0 = performance.now();
  last = t0;
  const consumer = rebuildPostgreSQLProjections({ connectionString: url, projection, pulling: { batchSize: 1000 } });
  await consumer.start();
  await consumer.stop();
  await consumer.close();
  const elapsedMs = performance.now() - t0;
  return { calls, events, errors: 0, elapsedMs, eventsPerSec: (events * 1000) / elapsedMs, callsPerSec: (calls * 1000) / elapsedMs, latency: rec.summary(), recorder: rec, failures: [] };
}

/** Three rows for one workload: regstream vs Emmett (the target), and each of them vs raw pg. */
function trio(label: string, id: string, parts: { rs: CallsResult[]; em: CallsResult[]; raw: CallsResult[] }, target: number, ctx: BenchContext): Row[] {
  const rs = combine(parts.rs);
  const em = combine(parts.em);
  const raw = combine(parts.raw);
  for (const [who, p] of [
    ['regstream', parts.rs],
    ['emmett', parts.em],
    ['raw pg', parts.raw],
  ] as const) {
    const errs = p.reduce((a, x) => a + x.errors, 0);
    if (errs) ctx.notes.push(`${label}, ${who}: ${errs} errors, e.g. ${p.flatMap((x) => x.failures)[0] ?? ''}`);
  }
  const ratio = rs.eventsPerSec / em.eventsPerSec;
  return [
    {
      id: `${id}-vs-emmett`,
      group: GROUP,
      label: `${label}: regstream vs Emmett`,
      eventsPerSec: rs.eventsPerSec,
      p50: rs.latency.p50,
      p99: rs.latency.p99,
      ref: { label: 'Emmett 0.42 PostgreSQL store', eventsPerSec: em.eventsPerSec, p50: em.latency.p50, p99: em.latency.p99 },
      ratio,
      ratioOf: 'throughput',
      target: { text: `≥ ${target}× Emmett`, pass: ratio >= target },
    },
    {
      id: `${id}-rs-vs-raw`,
      group: GROUP,
      label: `${label}: regstream vs raw pg`,
      eventsPerSec: rs.eventsPerSec,
      p50: rs.latency.p50,
      p99: rs.latency.p99,
      ref: { label: 'raw pg, same rows', eventsPerSec: raw.eventsPerSec, p50: raw.latency.p50, p99: raw.latency.p99 },
      ratio: rs.eventsPerSec / raw.eventsPerSec,
      ratioOf: 'throughput',
    },
    {
      id: `${id}-em-vs-raw`,
      group: GROUP,
      label: `${label}: Emmett vs raw pg`,
      eventsPerSec: em.eventsPerSec,
      p50: em.latency.p50,
      p99: em.latency.p99,
      ref: { label: 'raw pg, same rows', eventsPerSec: raw.eventsPerSec, p50: raw.latency.p50, p99: raw.latency.p99 },
      ratio: em.eventsPerSec / raw.eventsPerSec,
      ratioOf: 'throughput',
    },
  ];
}
