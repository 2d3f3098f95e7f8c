import 'reflect-metadata';
import { openMigrated, runScript } from './script';
import { performance } from 'node:perf_hooks';
import type { StoredEvent } from '@regstream/domain';
import { Projector } from '@regstream/projections';
import { toEnvelope } from './generator';
import { Recorder } from './stats';
import { history } from './workload';

/**
 * The projector's apply path alone, without Kafka, HTTP or other processes: a live day's events (known
 * on the day they arrive, as in the live-lag bench) applied to a seeded, rebuilt history in batches of
 * one partition, as the consumer would. `DATABASE_URL=... node bench/dist/live-apply.js <events> <batch>
 * [warmLimit]` prints milliseconds per batch and the apply rate. Each run's events are new (own seed
 * and namespace), so runs on one database do not collide.
 */
async function main(): Promise<void> {
  const [n = '5000', size = '100', limit] = process.argv.slice(2);
  const ds = await openMigrated();
  const projector = new Projector(ds, limit === undefined ? {} : { warmLimit: Number(limit) });
  const ns = `live${Date.now().toString(36)}`;
  const versions = new Map<string, number>();
  // A seed of its own per run: the generator's event ids follow the seed.
  const events: StoredEvent[] = history(Date.now() % 1_000_000, Number(n), ns, { from: '2026-11-28', to: '2026-11-29' }).map((g, i) => {
    const e = toEnvelope(g);
    const v = (versions.get(e.subject) ?? 0) + 1;
    versions.set(e.subject, v);
    return { ...e, recordedtime: new Date().toISOString(), streamversion: v, position: String(10_000_000 + i) };
  });
  const per = Number(size);
  const rec = new Recorder();
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += per) {
    const batch = events.slice(i, i + per);
    const s = performance.now();
    await projector.applyBatches([{ partition: `live-${ns}`, events: batch, offsets: batch.map((_, k) => String(i + k)) }]);
    rec.record(performance.now() - s);
  }
  const seconds = (performance.now() - t0) / 1000;
  const sum = rec.summary();
  console.log(`LIVE ${JSON.stringify({ events: events.length, batch: per, eventsPerSecond: Math.round(events.length / seconds), msPerBatch: sum, warm: projector.warmStats() })}`);
  await ds.destroy();
}

runScript(main);
