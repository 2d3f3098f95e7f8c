import 'reflect-metadata';
import { openMigrated, runScript } from './script';
import { PostgresEventStore } from '@regstream/event-store';
import { Projector } from '@regstream/projections';

/**
 * A full rebuild of the read models as a process of its own (so its peak RSS is its own):
 * `DATABASE_URL=... node bench/dist/rebuild-runner.js`. Runs the schema migrations, then
 * Projector.rebuild over the whole log, and prints one line `REBUILD {json}` with the result and
 * the process's peak RSS.
 */
async function main(): Promise<void> {
  const ds = await openMigrated();
  const store = new PostgresEventStore(ds);
  const batchSize = Number(process.env['REBUILD_BATCH_SIZE'] ?? 5000);
  const t0 = process.hrtime.bigint();
  let lastPrint = 0;
  const result = await new Projector(ds).rebuild(store, {
    batchSize,
    onProgress: (p) => {
      if (Date.now() - lastPrint < 5000 && p.phase === 'replay') return;
      lastPrint = Date.now();
      const rss = process.memoryUsage().rss / 2 ** 20;
      console.log(`PROGRESS ${p.phase} ${p.processed}/${p.total} ${p.eventsPerSecond} events/s rss ${Math.round(rss)} MiB t ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(0)} s`);
    },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(`REBUILD ${JSON.stringify({ ...result, wallSeconds: seconds, peakRssMb })}`);
  await ds.destroy();
}

runScript(main);
