import 'reflect-metadata';
import { BenchDatabase } from './services';
import { seedHistory } from './suites/read';

/**
 * Small helpers for profiling by hand:
 *   node bench/dist/tools.js seed <events> [seed]   creates regstream_bench_<run>_manual and loads a history;
 *                                                    prints its DATABASE_URL (drop it with `tools.js drop <name>`)
 *   node bench/dist/tools.js drop <database>
 */
async function main(): Promise<void> {
  const [cmd, a, b] = process.argv.slice(2);
  if (cmd === 'seed') {
    const db = await BenchDatabase.create('manual');
    const r = await seedHistory(db.url, Number(b ?? 20261229), Number(a ?? 10_000), (m) => console.error(m));
    console.error(`seeded in ${r.seconds.toFixed(1)} s`);
    console.log(db.url);
    return;
  }
  if (cmd === 'drop' && a && /^regstream_bench_[a-z0-9_]+$/.test(a)) {
    const { Client } = await import('pg');
    const c = new Client({ connectionString: process.env['BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${a} WITH (FORCE)`);
    await c.end();
    return;
  }
  console.error('usage: tools.js seed <events> [seed] | tools.js drop <regstream_bench_...>');
  process.exitCode = 2;
}

void main();
