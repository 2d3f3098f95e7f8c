import { Pool } from 'pg';
import { appEnv, type BenchContext } from '../context';
import type { GenEvent } from '../generator';
import { type CallsResult, combine, type LoadRequest, type LoadResult, runCalls, runLoad } from '../loadgen';
import { AppProcess, freePort, memoryOf, resetPeak } from '../procs';
import type { Row } from '../report';
import { BenchDatabase, issueApiKey } from '../services';
import { batchesOf, columns, history, partitionByStream, postBody, Queues, RAW_INSERT_MANY, RAW_INSERT_ONE, RAW_TABLE_DDL, RowMaker, StreamDispatcher } from '../workload';

export interface WriteOutcome {
  readonly db: BenchDatabase;
  /** Best sustained HTTP append rate measured (events/s): what the relay must outpace. */
  readonly bestAppendRate: number;
  readonly single16Rate: number;
  readonly batchRate: number;
  readonly appended: number;
}

interface Scenario {
  readonly key: string;
  readonly label: string;
  readonly clients: number;
  readonly batch: number;
  readonly events: GenEvent[];
}

type Unit = GenEvent | GenEvent[];

/**
 * Where each worker's next unit comes from. Single events: any free worker takes the next event of a
 * stream nobody is writing (StreamDispatcher). Batches: each worker owns a set of streams and sends
 * them in batches of up to 100 (a batch spans many streams, so streams cannot float between workers).
 */
function workSource(events: readonly GenEvent[], sc: Scenario): <R>(map: (u: Unit) => R) => (w: number) => Promise<R | null> {
  return <R>(map: (u: Unit) => R) => {
    if (sc.batch === 1) {
      const d = new StreamDispatcher(events, (e) => e.subject);
      return async (w: number) => {
        const e = await d.next(w);
        return e === null ? null : map(e);
      };
    }
    const q = new Queues(partitionByStream(events, sc.clients).map((part) => batchesOf(part, sc.batch)));
    return (w: number) => {
      const b = q.next(w);
      return Promise.resolve(b === null ? null : map(b));
    };
  };
}

/**
 * Appends over HTTP to a real ingest process (relay off, as in docker-compose), each beside the same
 * rows inserted with plain `pg` into an identical table, and beside a plain Node HTTP server taking
 * the same request bodies.
 */
export async function writeSuite(ctx: BenchContext): Promise<WriteOutcome> {
  const db = await BenchDatabase.create('write');
  ctx.cleanupAtEnd.push(() => db.drop());
  const port = await freePort();
  const topic = ctx.topics.name('write-events');
  ctx.topics.adopt(topic);
  const ingest = await AppProcess.start('ingest', 'apps/ingest/dist/main.js', {
    env: appEnv(db.url, port, topic, { REGSTREAM_RELAY: 'off' }),
    readyUrl: `http://127.0.0.1:${port}/healthz`,
    cpuProf: ctx.cpuProf.has('ingest'),
  });
  ctx.cleanup.push(() => ingest.stop());
  const key = await issueApiKey(db);
  for (const s of RAW_TABLE_DDL) await db.query(s);

  const plainPort = await freePort();
  const plain = await AppProcess.start('plain-http', 'bench/dist/plain-server.js', { env: { PORT: String(plainPort) }, readyText: 'listening' });
  ctx.cleanup.push(() => plain.stop());

  const pool = new Pool({ connectionString: db.url, max: 16 });
  pool.on('error', () => undefined);
  ctx.cleanup.push(() => pool.end());
  const rowMaker = new RowMaker();
  const base = `http://127.0.0.1:${port}`;
  const auth = { authorization: `Bearer ${key}` };

  const scenarios: Scenario[] = [
    { key: 'single-1', label: 'single-event append, 1 client', clients: 1, batch: 1, events: history(ctx.seed + 1, ctx.sizes.single1, 's1') },
    { key: 'single-16', label: 'single-event append, 16 clients', clients: 16, batch: 1, events: history(ctx.seed + 2, ctx.sizes.single16, 's16') },
    { key: 'batch-100', label: '100-event batches, 4 clients', clients: 4, batch: 100, events: history(ctx.seed + 3, ctx.sizes.batch, 'b100') },
  ];

  const rates: Record<string, number> = {};
  let appended = 0;
  const cap = 180_000;
  for (const sc of scenarios) {
    ctx.log(`write: ${sc.label} (${sc.events.length} events, 2 rounds interleaved with raw pg)`);
    const rows = new Map(sc.events.map((e) => [e.id, rowMaker.row(e)] as const));
    // Two rounds, each: regstream then raw pg on the same half of the history (noise hits both alike).
    const half = Math.ceil(sc.events.length / 2);
    const halves = [sc.events.slice(0, half), sc.events.slice(half)];
    const rsParts: LoadResult[] = [];
    const rawParts: CallsResult[] = [];
    let cpu = 0;
    ingest.resetPeak();
    for (const h of halves) {
      const source = workSource(h, sc);
      const cpu0 = ingest.cpuSeconds();
      rsParts.push(await runLoad({ baseUrl: base, concurrency: sc.clients, durationMs: cap, next: source((x) => postBody(x)), headers: auth }));
      cpu += ingest.cpuSeconds() - cpu0;
      rawParts.push(
        await runCalls<unknown[][]>({
          concurrency: sc.clients,
          durationMs: cap,
          next: source((x) => (Array.isArray(x) ? (x) : [x]).map((e) => rows.get(e.id) as unknown[])),
          op: async (rs) => {
            if (rs.length === 1) await pool.query(RAW_INSERT_ONE, rs[0]);
            else await pool.query(RAW_INSERT_MANY, columns(rs));
            return rs.length;
          },
        }),
      );
    }
    const ingestPeak = ingest.memory().hwmMb;
    const rs = combine(rsParts);
    const raw = combine(rawParts);
    appended += rs.events;
    rates[sc.key] = rs.eventsPerSec;
    const failures = rsParts.flatMap((p) => p.failures);
    if (rs.errors) ctx.notes.push(`${sc.label}: ${rs.errors} failed requests, e.g. ${failures[0] ?? ''}`);
    if (rs.events < sc.events.length) ctx.notes.push(`${sc.label}: only ${rs.events} of ${sc.events.length} events appended within ${cap / 1000} s per round`);
    ctx.rows.push(row(sc, rs, raw, ingestPeak, cpu));

    // plain Node HTTP server, same bodies, same load generator, same dispatch
    resetPeak(plain.pid);
    const pl = await runLoad({ baseUrl: `http://127.0.0.1:${plainPort}`, concurrency: sc.clients, durationMs: cap, next: workSource(sc.events, sc)((x) => postBody(x)) });
    ctx.rows.push({
      id: `http-${sc.key}`,
      group: 'HTTP overhead',
      label: `${sc.label}: ingest vs plain node:http`,
      eventsPerSec: rs.eventsPerSec,
      p50: rs.latency.p50,
      p99: rs.latency.p99,
      rssMb: { ingest: ingestPeak, plain: memoryOf(plain.pid).hwmMb },
      ref: { label: 'plain node:http, same bodies', eventsPerSec: pl.eventsPerSec, p50: pl.latency.p50, p99: pl.latency.p99 },
      ratio: rs.eventsPerSec / pl.eventsPerSec,
      ratioOf: 'throughput',
    });
  }
  const [stored] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM events`);
  if (Number(stored?.n) !== appended) ctx.notes.push(`write: ${appended} events acknowledged but ${stored?.n} stored`);
  await ingest.stop();
  await plain.stop();
  const best = Math.max(...Object.values(rates));
  return { db, bestAppendRate: best, single16Rate: rates['single-16'] ?? NaN, batchRate: rates['batch-100'] ?? NaN, appended };
}

function row(sc: Scenario, rs: ReturnType<typeof combine>, raw: ReturnType<typeof combine>, ingestPeak: number, cpuSeconds: number): Row {
  const ratio = rs.eventsPerSec / raw.eventsPerSec;
  const target =
    sc.key === 'single-16'
      ? { text: '≥ 40% of raw 1/tx @16', pass: ratio >= 0.4 }
      : sc.key === 'batch-100'
        ? { text: '≥ 30% of raw 100/stmt', pass: ratio >= 0.3 }
        : undefined;
  return {
    id: `append-${sc.key}`,
    group: 'write path (HTTP → ingest → PostgreSQL)',
    label: sc.label,
    eventsPerSec: rs.eventsPerSec,
    p50: rs.latency.p50,
    p99: rs.latency.p99,
    rssMb: { ingest: ingestPeak },
    ref: { label: sc.batch === 1 ? `raw pg INSERT, 1 row/tx, ${sc.clients} client${sc.clients > 1 ? 's' : ''}` : `raw pg INSERT, 100 rows/stmt, ${sc.clients} clients`, eventsPerSec: raw.eventsPerSec, p50: raw.latency.p50, p99: raw.latency.p99 },
    ratio,
    ratioOf: 'throughput',
    ...(target ? { target } : {}),
    extra: { events: rs.events, errors: rs.errors, ingestCpuMsPerEvent: (cpuSeconds * 1000) / Math.max(1, rs.events), rawErrors: raw.errors, elapsedMs: rs.elapsedMs, rawElapsedMs: raw.elapsedMs },
  };
}

export type { LoadRequest };
