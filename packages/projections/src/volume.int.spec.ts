import { loadavg } from 'node:os';
import type { StoredEvent } from '@regstream/domain';
import { InMemoryEventStore, START } from '@regstream/event-store';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { applyAll, appendToStore, generateHistory, interleave, openPostgresModels, type TestModels, toStored } from './testing';

const EVENTS = Number(process.env['VOLUME_EVENTS'] ?? 100_000);

let db: TestDatabase;
let m: TestModels;
beforeAll(async () => {
  db = await createTestDatabase('rs_volume');
  m = await openPostgresModels(db.url);
});
afterAll(async () => {
  await m.close();
  await db.drop();
});

/** The log: events in the order an event store returns them (positions assigned by the store). */
const log = new InMemoryEventStore();

async function readStore(): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cp = START;
  for (;;) {
    const page = await log.readAll(cp, 10_000);
    if (page.events.length === 0) return out;
    out.push(...page.events);
    cp = page.checkpoint;
  }
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
}

/**
 * The read models live in PostgreSQL; the log they are built from is held by the in-memory store, so
 * the time goes to the projections (see the README for the PostgreSQL-to-PostgreSQL rebuild rate).
 */
it(`${EVENTS.toLocaleString('en')} generated events: incremental (interleaved partitions) and full rebuild agree; rebuild rate and query latency`, async () => {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  // 1% stance codings (~1,000 over 11 jurisdictions), 0.8% corrections, 0.3% retractions, 5% backfilled knowledge.
  const generated = toStored(generateHistory({ seed: 2026, events: EVENTS, stanceShare: 0.01 }));
  await appendToStore(log, generated, 5000);
  const stored = await readStore();
  const t1 = Date.now();
  const cpu1 = process.cpuUsage();
  // Six partitions taking turns in batches of 1,500-3,000 events, like consumers keeping pace on a broker.
  const batches = interleave(stored, { seed: 1, partitions: 6, minBatch: 1500, maxBatch: 3000, evenly: true });
  await applyAll(m.projector, batches);
  const t2 = Date.now();
  const cpu2 = process.cpuUsage();
  const incremental = await m.projector.checksum('v1');
  const t3 = Date.now();
  const cpu3 = process.cpuUsage();
  const rebuilt = await m.projector.rebuild(log, { batchSize: 10_000 });
  const t4 = Date.now();
  const cpu4 = process.cpuUsage();
  const full = await m.projector.checksum(rebuilt.model);
  expect(full.digest).toBe(incremental.digest);
  expect(full.tables['facts']?.rows).toBe(EVENTS);

  // Query latency on the rebuilt model, over many random (asOf, knownAt) points.
  const lat: Record<string, number[]> = {};
  const time = async (name: string, fn: () => Promise<unknown>) => {
    const s = performance.now();
    await fn();
    (lat[name] ??= []).push(performance.now() - s);
  };
  for (let i = 0; i < 40; i++) {
    const asOf = `${2012 + (i % 15)}-0${1 + (i % 9)}-15`;
    const knownAt = i % 2 === 0 ? undefined : `${2014 + (i % 12)}-06-01`;
    const q = { asOf, ...(knownAt ? { knownAt } : {}) };
    await time('stances', () => m.queries.stances(q));
    await time('divergence', () => m.queries.divergence(q));
    await time('timeline(EU, 200)', () => m.queries.timeline({ ...q, jurisdictions: ['EU'], limit: 200 }));
    await time('instrument', () => m.queries.instrument(`gen-eu-${1 + i * 7}`, q));
    await time('upcoming', () => m.queries.upcoming({ ...q, days: 365 }));
    await time('series(EU,US)', () => m.queries.series({ a: 'EU', b: 'US', ...(knownAt ? { knownAt } : {}) }));
  }
  const ms = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => Math.round((b.user - a.user + b.system - a.system) / 1000) / 1000;
  const report = {
    loadAverage: loadavg().map((x) => +x.toFixed(2)),
    events: EVENTS,
    setupSeconds: (t1 - t0) / 1000,
    setupCpuSeconds: ms(cpu0, cpu1),
    incremental: { batches: batches.length, seconds: (t2 - t1) / 1000, nodeCpuSeconds: ms(cpu1, cpu2), eventsPerSecond: Math.round(EVENTS / ((t2 - t1) / 1000)) },
    checksumSeconds: (t3 - t2) / 1000,
    rebuild: { seconds: (t4 - t3) / 1000, nodeCpuSeconds: ms(cpu3, cpu4), eventsPerSecond: rebuilt.eventsPerSecond },
    rows: Object.fromEntries(Object.entries(full.tables).map(([k, v]) => [k, v.rows])),
    queryMs: Object.fromEntries(Object.entries(lat).map(([k, xs]) => [k, { p50: +percentile(xs, 50).toFixed(2), p95: +percentile(xs, 95).toFixed(2) }])),
  };
  console.log(JSON.stringify(report, null, 2));
}, 300_000);
