import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { BenchContext, Sizes } from './context';
import { REPO_ROOT } from './procs';
import { formatTable, machineInfo, type RunInfo, writeResults } from './report';
import { benchKafka, BenchTopics, dbUrl, RUN_ID } from './services';
import { alertsSuite } from './suites/alerts';
import { bullmqReference } from './suites/bullmq';
import { emmettSuite } from './suites/emmett';
import { readSuite } from './suites/read';
import { relaySuite } from './suites/relay';
import { writeSuite } from './suites/write';

const SUITES = ['write', 'relay', 'bullmq', 'emmett', 'read', 'alerts'] as const;
type Suite = (typeof SUITES)[number];

const USAGE = `npm run bench [-- options]

  --full              add the 1M-event history (rebuild, as-of queries, projector RSS); tens of minutes
  --only=a,b          run only these suites: ${SUITES.join(', ')}
  --cpu-prof=a,b      run these processes under --cpu-prof (ingest, relay, projector, api, alerts);
                      profiles land in bench/profiles/
  --sizes=a,b         history sizes of the read suite (default 10000,100000; with --full also 1000000)
  --seed=N            generator seed (default 20261129)
  --duration=MS       cap of one closed-loop measurement (default 5000)
  --skip-live         read suite: leave out the live lag (append to queryable) on the largest history,
                      which takes minutes; seeding, rebuild and as-of queries still run
  --help`;

function parseArgs(argv: readonly string[]): { full: boolean; only: Set<Suite>; cpuProf: Set<string>; seed: number; durationMs: number; sizes: number[] | null; skipLive: boolean } {
  const get = (k: string) => argv.find((a) => a.startsWith(`--${k}=`))?.slice(k.length + 3);
  if (argv.includes('--help')) {
    console.log(USAGE);
    process.exit(0);
  }
  const only = new Set((get('only')?.split(',') ?? [...SUITES]).map((s) => s.trim()) as Suite[]);
  for (const s of only) if (!SUITES.includes(s)) throw new Error(`unknown suite ${s}; known: ${SUITES.join(', ')}`);
  return {
    full: argv.includes('--full'),
    only,
    cpuProf: new Set(get('cpu-prof')?.split(',').map((s) => s.trim()) ?? []),
    seed: Number(get('seed') ?? 20261129),
    durationMs: Number(get('duration') ?? 5000),
    sizes: get('sizes')?.split(',').map((x) => Number(x.replace(/_/g, ''))) ?? null,
    skipLive: argv.includes('--skip-live'),
  };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // A pooled connection that the server ends while idle (57P01, e.g. another session's maintenance)
  // must not end the whole run: note it and go on; anything else still ends it.
  process.on('uncaughtException', (e: unknown) => {
    const code = (e as { code?: string } | null)?.code;
    const message = e instanceof Error ? e.message : '';
    if (code === '57P01' || code === 'ECONNRESET' || message === 'Connection terminated unexpectedly') {
      console.error(`[bench] ignored a dropped connection (${code ?? message})`);
      return;
    }
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  });
  const started = new Date();
  const t0 = performance.now();
  const base: Sizes = args.full
    ? { single1: 3_000, single16: 10_000, batch: 100_000, histories: [10_000, 100_000, 1_000_000], emmettRebuild: 200_000 }
    : { single1: 1_500, single16: 4_000, batch: 40_000, histories: [10_000, 100_000], emmettRebuild: 200_000 };
  const sizes: Sizes = args.sizes ? { ...base, histories: args.sizes } : base;
  const kafka = benchKafka();
  const log = (m: string) => console.error(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${m}`);
  const ctx: BenchContext = {
    profile: args.full ? 'full' : 'quick',
    seed: args.seed,
    sizes,
    durationMs: args.durationMs,
    cpuProf: args.cpuProf,
    skipLive: args.skipLive,
    kafka,
    topics: new BenchTopics(kafka),
    rows: [],
    notes: [],
    cleanup: [],
    cleanupAtEnd: [],
    log,
  };
  log(`run ${RUN_ID}: profile ${ctx.profile}, suites ${[...args.only].join(', ')}`);
  const postgres = await (async () => {
    const { Client } = await import('pg');
    const c = new Client({ connectionString: dbUrl('postgres') });
    await c.connect();
    const r = await c.query<{ v: string }>(`SELECT current_setting('server_version') AS v`);
    await c.end();
    return r.rows[0]?.v;
  })();

  const missing = ['apps/ingest/dist/main.js', 'apps/ingest/dist/relay-main.js'].filter((f) => !existsSync(join(REPO_ROOT, f)));
  if (missing.length) throw new Error(`not built: ${missing.join(', ')} (npm run bench builds them with turbo)`);

  const run = async (name: Suite, fn: () => Promise<unknown>) => {
    if (!args.only.has(name)) return;
    const s0 = performance.now();
    try {
      await fn();
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      ctx.notes.push(`suite ${name} failed: ${msg.split('\n')[0] ?? msg}`);
      log(`suite ${name} failed: ${e instanceof Error ? (e.stack ?? msg) : msg}`);
    } finally {
      for (const c of ctx.cleanup.splice(0).reverse()) await c().catch((e: unknown) => log(`cleanup: ${e instanceof Error ? e.message : String(e)}`));
    }
    log(`suite ${name} took ${((performance.now() - s0) / 1000).toFixed(0)} s`);
  };

  try {
    const state: { write?: Awaited<ReturnType<typeof writeSuite>>; kafka?: Awaited<ReturnType<typeof relaySuite>>; bull?: Awaited<ReturnType<typeof bullmqReference>> } = {};
    await run('write', async () => {
      state.write = await writeSuite(ctx);
    });
    await run('relay', async () => {
      if (!state.write) throw new Error('the relay suite drains what the write suite appended: run both');
      state.kafka = await relaySuite(ctx, state.write);
    });
    await run('bullmq', async () => {
      state.bull = await bullmqReference(ctx, args.full ? 50_000 : 20_000);
    });
    await run('emmett', () => emmettSuite(ctx));
    await run('read', () => readSuite(ctx, state.kafka ?? null));
    await run('alerts', () => alertsSuite(ctx, state.bull ?? null, state.kafka?.consumeRate ?? null));
  } finally {
    for (const c of [...ctx.cleanup.splice(0), ...ctx.cleanupAtEnd.splice(0)].reverse()) await c().catch((e: unknown) => log(`cleanup: ${e instanceof Error ? e.message : String(e)}`));
    await ctx.topics.deleteAll().catch((e: unknown) => log(`topic cleanup: ${e instanceof Error ? e.message : String(e)}`));
  }

  const table = formatTable(ctx.rows);
  const info: RunInfo = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    profile: ctx.profile,
    seed: ctx.seed,
    sizes: sizes.histories,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: { ...machineInfo(), ...(postgres ? { postgres } : {}) },
    notes: ctx.notes,
  };
  const file = writeResults(info, ctx.rows, table);
  console.log(`\nregstream benchmarks: ${info.command} (${ctx.profile} profile, seed ${ctx.seed}, ${info.machine.cpus} cores, node ${info.machine.node}, PostgreSQL ${postgres ?? '?'})\n`);
  console.log(table);
  if (ctx.notes.length) console.log(`\nnotes:\n${ctx.notes.map((n) => `  - ${n}`).join('\n')}`);
  const targets = ctx.rows.filter((r) => r.target);
  console.log(`\ntargets: ${targets.filter((r) => r.target?.pass === true).length} PASS, ${targets.filter((r) => r.target?.pass === false).length} MISS, ${targets.filter((r) => r.target?.pass === null).length} n/a`);
  console.log(`results: ${file} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
