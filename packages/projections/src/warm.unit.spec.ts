import type { AnyEnvelope, StoredEvent } from '@regstream/domain';
import { CODEBOOK_V1 } from '@regstream/domain';
import { applyEvents } from './engine';
import { Projector } from './projector';
import { SqlDb } from './sql';
import { applyAll, generateHistory, interleave, openSqliteModels, type TestBatch, type TestModels, toStored } from './testing';
import { WarmModels, type WarmStats } from './warm';

/**
 * A backfilled history, then a "live day": every later event known on the same day (the shape of live
 * ingestion, where batch after batch lands in one known-time epoch), with a few backfilled events
 * (known years earlier) and corrections arriving among them.
 */
function liveDay(backfill = true): StoredEvent[] {
  const history = generateHistory({ seed: 71, events: 1500, stanceShare: 0.2, correctionShare: 0.04, retractionShare: 0.02 });
  let n = 0;
  // Another seed per variant: the same event id must always be the same event (the process caches facts by id).
  const live = generateHistory({ seed: backfill ? 72 : 74, events: 700, stanceShare: 0.35, correctionShare: 0.15, retractionShare: 0.03 }).map((e, i): AnyEnvelope => {
    const knowntime = backfill && i % 97 === 50 ? '2019-03-04' : '2026-11-28';
    if (e.type !== 'RecordCorrected' && e.type !== 'RecordRetracted') return { ...e, knowntime };
    // Amendments in streams of their own (other partitions: they may arrive before their target), some
    // known earlier than the target: the ledger kept before the live day must then be rebuilt.
    n += 1;
    return { ...e, subject: `corrections-${n % 5}`, knowntime: backfill && n % 2 === 0 ? '2020-06-01' : knowntime };
  });
  return toStored([...history, ...live]);
}

async function build(batches: readonly TestBatch[], warmLimit?: number): Promise<{ digest: string; tables: unknown; stats: WarmStats }> {
  const m = await openSqliteModels(warmLimit === undefined ? {} : { warmLimit });
  try {
    await applyAll(m.projector, batches);
    expect(await m.projector.deadLetters()).toEqual([]);
    const c = await m.projector.checksum();
    return { digest: c.digest, tables: c.tables, stats: m.projector.warmStats() };
  } finally {
    await m.close();
  }
}

describe('warm models: the live path keeps the stance history in memory and builds what a cold projector builds', () => {
  const events = liveDay();

  it('a live day in small interleaved batches: warm, cold (warmLimit 0) and one batch agree', async () => {
    const batches = interleave(events, { seed: 4, partitions: 4, maxBatch: 25 });
    const warm = await build(batches);
    const cold = await build(batches, 0);
    const once = await build([{ partition: '0', events, offsets: events.map((_, i) => String(i)) }], 0);
    expect(warm.tables).toEqual(cold.tables);
    expect(warm.digest).toBe(cold.digest);
    expect(warm.digest).toBe(once.digest);
    // The warm path was taken: loaded once, then served from memory.
    expect(warm.stats.loads).toBe(1);
    expect(warm.stats.hits).toBeGreaterThan(batches.length / 2);
    expect(warm.stats.stancesLatest + warm.stats.stancesResumed).toBeGreaterThan(0);
    expect(cold.stats).toEqual({ hits: 0, loads: 0, baseResumed: 0, baseBuilt: 0, baseLatest: 0, vtMinLatest: 0, stancesLatest: 0, stancesResumed: 0, stancesBuilt: 0 });
  }, 120_000);

  it('a live day without backfilled events: batches add to the latest epoch, and still agree with a rebuild', async () => {
    const plain = liveDay(false);
    // The history first (as after a rebuild), then the live day's events in interleaved batches.
    const split = plain.findIndex((e) => e.knowntime === '2026-11-28');
    const history = plain.slice(0, split);
    const batches = [{ partition: '9', events: history, offsets: history.map((_, i) => String(i)) }, ...interleave(plain.slice(split), { seed: 8, partitions: 4, maxBatch: 25 })];
    const warm = await build(batches);
    expect(warm.digest).toBe((await build([{ partition: '0', events: plain, offsets: plain.map((_, i) => String(i)) }], 0)).digest);
    expect(warm.stats.baseLatest).toBeGreaterThan(warm.stats.baseResumed + warm.stats.baseBuilt);
    expect(warm.stats.stancesLatest).toBeGreaterThan(warm.stats.stancesBuilt + warm.stats.stancesResumed);
    // Most batches moved the earliest affected valid time by their own facts, not the whole day's.
    expect(warm.stats.vtMinLatest).toBeGreaterThan(warm.stats.baseLatest / 2);
  }, 120_000);

  it('a live day with corrections known the next day (two recent epochs in every batch) agrees with a rebuild', async () => {
    const plain = liveDay(false);
    const split = plain.findIndex((e) => e.knowntime === '2026-11-28');
    let n = 0;
    // Every other amendment (in streams of their own, as liveDay makes them) known a day later.
    const live = plain
      .slice(split)
      // A changed event is another event: new id (facts and codings are cached by id in the process).
      .map((e) => (e.type === 'RecordCorrected' || e.type === 'RecordRetracted' ? (n++ % 2 === 0 ? { ...e, id: `ffff${e.id.slice(4)}`, knowntime: '2026-11-29' } : e) : e));
    const history = plain.slice(0, split);
    const batches = [{ partition: '9', events: history, offsets: history.map((_, i) => String(i)) }, ...interleave(live, { seed: 12, partitions: 3, maxBatch: 25 })];
    const warm = await build(batches);
    const all = [...history, ...live];
    expect(warm.digest).toBe((await build([{ partition: '0', events: all, offsets: all.map((_, i) => String(i)) }], 0)).digest);
    expect(warm.digest).toBe((await build(batches, 0)).digest);
    expect(warm.stats.stancesLatest).toBeGreaterThan(warm.stats.stancesBuilt + warm.stats.stancesResumed);
    expect(warm.stats.baseLatest).toBeGreaterThan(warm.stats.baseResumed + warm.stats.baseBuilt);
  }, 120_000);

  it('warmed up at startup, the first live batches resume from the loaded state instead of building it', async () => {
    const plain = liveDay(false);
    const split = plain.findIndex((e) => e.knowntime === '2026-11-28');
    // Without amendments: a coding whose amendment arrived first (another partition) drops its
    // jurisdiction's state on purpose, which would blur what this test counts.
    const live = interleave(
      plain.slice(split).filter((e) => e.type !== 'RecordCorrected' && e.type !== 'RecordRetracted'),
      { seed: 9, partitions: 3, maxBatch: 30 },
    );
    const m = await openSqliteModels({ warmLimit: 0 });
    try {
      await m.projector.applyBatch('history', plain.slice(0, split), plain.slice(0, split).map((_, i) => String(i)));
      // A projector process starting on that database.
      const started = new Projector(m.dataSource);
      expect(await started.warmUp()).toBeGreaterThan(100);
      const before = started.warmStats();
      await applyAll(started, live);
      const stats = started.warmStats();
      expect(stats.loads).toBe(1);
      expect(stats.baseBuilt).toBe(before.baseBuilt);
      expect(stats.stancesBuilt).toBe(0);
      expect(stats.stancesLatest).toBeGreaterThan(stats.stancesResumed);
      const all = [...plain.slice(0, split), ...live.flatMap((b) => b.events)];
      expect((await started.checksum()).digest).toBe((await build([{ partition: '0', events: all, offsets: all.map((_, i) => String(i)) }], 0)).digest);
    } finally {
      await m.close();
    }
  }, 120_000);

  it('a correction known before the live day whose coding arrives later is applied from the start, as in a rebuild', async () => {
    const all = generateHistory({ seed: 73, events: 1200, stanceShare: 0.4, correctionShare: 0.1, retractionShare: 0 });
    const byId = new Map(all.map((e) => [e.id, e]));
    const stored = new Set(['CN', 'EU', 'GB', 'JP', 'KR', 'US', 'INTL-OECD']);
    // Corrections of stored jurisdictions' codings; the codings and the corrections are held back.
    const pairs = all
      .filter((e) => e.type === 'RecordCorrected')
      .flatMap((c): { c: AnyEnvelope; s: AnyEnvelope }[] => {
        const s = byId.get((c.data as { targetEventId: string }).targetEventId);
        return s?.type === 'StanceCoded' && stored.has(s.data.jurisdiction) ? [{ c, s }] : [];
      })
      .slice(0, 6);
    expect(pairs.length).toBeGreaterThan(2);
    const held = new Set(pairs.flatMap((p) => [p.c.id, p.s.id]));
    const day = (e: AnyEnvelope, knowntime: string, subject = e.subject) => ({ ...e, subject, knowntime }) as AnyEnvelope;
    const base = all.filter((e) => !held.has(e.id) && e.type !== 'RecordCorrected' && e.type !== 'RecordRetracted');
    const liveCodings = base.filter((e) => e.type === 'StanceCoded').slice(-40).map((e) => ({ ...day(e, '2026-11-28'), id: `${e.id.slice(0, -4)}f00d` }));
    const log = toStored([
      ...base,
      ...liveCodings,
      // The corrections first, in a stream of their own and known in 2020; then their codings, known on the live day.
      ...pairs.map((p) => day(p.c, '2020-06-01', 'corrections')),
      ...pairs.map((p) => day(p.s, '2026-11-28')),
    ]);
    const nBase = base.length;
    const nLive = liveCodings.length;
    const batches: TestBatch[] = [];
    const cut = (from: number, to: number, partition: string) => batches.push({ partition, events: log.slice(from, to), offsets: log.slice(from, to).map((_, i) => String(from + i)) });
    cut(0, nBase, '0');
    for (let i = 0; i < nLive; i += 10) cut(nBase + i, nBase + Math.min(nLive, i + 10), '0');
    cut(nBase + nLive, nBase + nLive + pairs.length, '1');
    for (let i = 0; i < pairs.length; i++) cut(nBase + nLive + pairs.length + i, nBase + nLive + pairs.length + i + 1, '0');
    const warm = await build(batches);
    const cold = await build(batches, 0);
    expect(warm.digest).toBe(cold.digest);
    expect(warm.digest).toBe((await build([{ partition: '0', events: log, offsets: log.map((_, i) => String(i)) }], 0)).digest);
  }, 120_000);

  it('a model over the limit is served cold and still agrees', async () => {
    const batches = interleave(events, { seed: 5, partitions: 3, maxBatch: 40 });
    // Over the limit from the first batches with more than one stance fact on.
    const over = await build(batches, 1);
    expect(over.stats.hits).toBeLessThan(5);
    expect(over.digest).toBe((await build(batches, 0)).digest);
  }, 120_000);

  it('a transaction that fails after applying leaves nothing behind in memory: the next batch reloads', async () => {
    const batches = interleave(events, { seed: 6, partitions: 3, maxBatch: 30 });
    const want = (await build(batches, 0)).digest;
    const m: TestModels = await openSqliteModels();
    try {
      const db = new SqlDb(m.dataSource);
      const warm = new WarmModels();
      const apply = (b: TestBatch) => db.unit((u) => applyEvents(u, b.events, { model: 'v1', codebook: CODEBOOK_V1, warm }));
      let failures = 0;
      for (const [i, b] of batches.entries()) {
        if (i % 9 === 4) {
          // Applied in memory, then the transaction throws before commit (as a failed checkpoint write would).
          await expect(
            db.unit(async (u) => {
              await applyEvents(u, b.events, { model: 'v1', codebook: CODEBOOK_V1, warm });
              throw new Error('commit failed');
            }),
          ).rejects.toThrow('commit failed');
          failures += 1;
        }
        await apply(b);
      }
      expect(failures).toBeGreaterThan(3);
      expect((await m.projector.checksum()).digest).toBe(want);
    } finally {
      await m.close();
    }
  }, 120_000);
});
