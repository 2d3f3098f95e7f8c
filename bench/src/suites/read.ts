import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type AppendRequest, openEventStore } from '@regstream/event-store';
import { Client } from 'pg';
import type { BenchContext } from '../context';
import { generateHistory, toEnvelope } from '../generator';
import { AppProcess, freePort, REPO_ROOT, runToExit } from '../procs';
import type { Row } from '../report';
import { BenchDatabase } from '../services';
import { ApiHandle, asOfQueries, type AsOfOutcome } from './asof';
import { liveLag } from './livelag';
import type { KafkaReference } from './relay';

const GROUP_REBUILD = 'read side: full rebuild (Projector.rebuild in its own process)';

/** Loads a generated history straight through the store (1,000 events per appendBatch), then empties the outbox. */
export async function seedHistory(url: string, seed: number, events: number, log: (m: string) => void): Promise<{ seconds: number }> {
  const { store } = await openEventStore({ kind: 'postgres', url }, { poolSize: 4 });
  const t0 = performance.now();
  let buf: AppendRequest[] = [];
  let n = 0;
  const flush = async () => {
    if (buf.length) await store.appendBatch(buf);
    buf = [];
  };
  for (const e of generateHistory({ seed, events, namespace: 'h' })) {
    const env = toEnvelope(e);
    buf.push({ streamId: env.subject, events: [env] });
    if (buf.length === 1000) await flush();
    n += 1;
    if (n % 200_000 === 0) log(`  seeded ${n.toLocaleString('en-US')} events`);
  }
  await flush();
  await store.close();
  const c = new Client({ connectionString: url });
  await c.connect();
  await c.query(`TRUNCATE outbox`);
  await c.query(`VACUUM ANALYZE events`);
  await c.end();
  return { seconds: (performance.now() - t0) / 1000 };
}

/** The raw floor of a rebuild: read every row of the same log with plain pg, pages of 5,000. */
async function rawScan(url: string): Promise<number> {
  const c = new Client({ connectionString: url });
  await c.connect();
  const t0 = performance.now();
  let after = '0';
  let n = 0;
  for (;;) {
    const r = await c.query<{ global_position: string }>(`SELECT * FROM events WHERE global_position > $1 ORDER BY global_position LIMIT 5000`, [after]);
    if (r.rows.length === 0) break;
    n += r.rows.length;
    after = r.rows[r.rows.length - 1]?.global_position ?? after;
  }
  const secs = (performance.now() - t0) / 1000;
  await c.end();
  return n / secs;
}

let plainShared: { proc: AppProcess; base: string } | null = null;

/** The plain node:http reference server, started once for the whole read suite. */
async function plainServer(ctx: BenchContext): Promise<{ proc: AppProcess; base: string }> {
  if (plainShared) return plainShared;
  const port = await freePort();
  const proc = await AppProcess.start('plain-http', 'bench/dist/plain-server.js', { env: { PORT: String(port) }, readyText: 'listening' });
  ctx.cleanup.push(() => proc.stop());
  plainShared = { proc, base: `http://127.0.0.1:${port}` };
  return plainShared;
}

export interface ReadSizeOutcome {
  readonly size: number;
  readonly db: BenchDatabase;
}

/**
 * For each history size: seed a database, rebuild the read models in a process of its own (events/s,
 * peak RSS) beside a raw scan of the same log, then as-of queries against the API (when the API app is
 * built) and, on the largest history, the live lag from append to queryable with every process running.
 */
export async function readSuite(ctx: BenchContext, kafka: KafkaReference | null): Promise<void> {
  const asOf: AsOfOutcome[] = [];
  const sizes = ctx.sizes.histories;
  for (const size of sizes) {
    const db = await BenchDatabase.create(`h${size >= 1_000_000 ? `${size / 1_000_000}m` : `${size / 1000}k`}`);
    try {
      ctx.log(`read: seeding ${size.toLocaleString('en-US')} events`);
      const seeded = await seedHistory(db.url, ctx.seed + 100, size, (m) => ctx.log(m));
      ctx.log(`read: seeded in ${seeded.seconds.toFixed(1)} s; rebuilding`);
      const raw = await rawScan(db.url);
      // A large heap, so that a rebuild that needs memory still finishes and its peak RSS is reported.
      const run = await runToExit('rebuild', 'bench/dist/rebuild-runner.js', {
        env: { DATABASE_URL: db.url },
        cpuProf: ctx.cpuProf.has('rebuild'),
        maxOldSpaceMb: 12_288,
        timeoutMs: Number(process.env['BENCH_REBUILD_TIMEOUT_MS'] ?? 3_600_000),
      });
      const line = run.output.split('\n').find((l) => l.startsWith('REBUILD '));
      if (run.code !== 0 || !line) {
        const progress = run.output.split('\n').filter((l) => l.startsWith('PROGRESS ')).pop();
        ctx.notes.push(`rebuild at ${size}: failed (exit ${run.code})${progress ? `, last ${progress}` : ''}: ${run.output.trim().split('\n').slice(-3).join(' | ')}`);
      } else {
        const r = JSON.parse(line.slice(8)) as { events: number; deadLettered: number; wallSeconds: number; eventsPerSecond: number; peakRssMb: number };
        const rate = r.events / r.wallSeconds;
        if (r.deadLettered) ctx.notes.push(`rebuild at ${size}: ${r.deadLettered} events dead-lettered`);
        const row: Row = {
          id: `rebuild-${size}`,
          group: GROUP_REBUILD,
          label: `rebuild, ${size.toLocaleString('en-US')} events`,
          eventsPerSec: rate,
          rssMb: { rebuild: r.peakRssMb },
          ref: { label: 'raw pg scan of the same log', eventsPerSec: raw },
          ratio: rate / raw,
          ratioOf: 'throughput',
          target: { text: '≥ 25,000 events/s', pass: rate >= 25_000 },
          extra: { wallSeconds: r.wallSeconds, deadLettered: r.deadLettered, seedSeconds: seeded.seconds },
        };
        ctx.rows.push(row);
      }
      let api: ApiHandle | null = null;
      try {
        if (existsSync(join(REPO_ROOT, 'apps/api/dist/index.js'))) {
          const plain = await plainServer(ctx);
          api = await ApiHandle.start(ctx, db, ctx.topics.name(`api-${size}`));
          ctx.topics.adopt(ctx.topics.name(`api-${size}`));
          asOf.push(await asOfQueries(ctx, api, size, plain.base, plain.proc.pid));
        }
        if (size === sizes[sizes.length - 1]) {
          if (ctx.skipLive) ctx.notes.push('live lag and projector RSS: left out (--skip-live)');
          else if (existsSync(join(REPO_ROOT, 'apps/projector/dist/main.js'))) await liveLag(ctx, db, size, kafka, api);
          else ctx.notes.push('live lag and projector RSS: apps/projector is not built in this tree; not measured');
        }
      } finally {
        await api?.proc.stop();
      }
    } finally {
      await db.drop();
    }
  }
  if (asOf.length === 0) ctx.notes.push('as-of queries: apps/api is not built in this tree; not measured');
  else if (asOf.length > 1) {
    const first = asOf[0] as AsOfOutcome;
    const last = asOf[asOf.length - 1] as AsOfOutcome;
    for (const ep of Object.keys(first.p99) as (keyof AsOfOutcome['p99'])[]) {
      const growth = last.p99[ep] / first.p99[ep];
      ctx.rows.push({
        id: `asof-growth-${ep}`,
        group: 'read side: as-of queries over HTTP (api process)',
        label: `${ep} p99 growth ${first.size.toLocaleString('en-US')} → ${last.size.toLocaleString('en-US')}`,
        p99: last.p99[ep],
        ref: { label: `same query at ${first.size.toLocaleString('en-US')} events`, p99: first.p99[ep] },
        ratio: growth,
        ratioOf: 'latency',
        target: { text: 'no growth (≤ 1.5×, noise)', pass: growth <= 1.5 },
      });
    }
  }
}
