import { loadCorpus } from '@regstream/corpus';
import type { StoredEvent } from '@regstream/domain';
import { START } from '@regstream/event-store';
import type { RebuildProgress } from './projector';
import { applyAll, appendToStore, generateHistory, interleave, openSqliteModels, type TestModels, toStored } from './testing';
import { norm } from './time';

async function readStore(m: TestModels): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cp = START;
  for (;;) {
    const page = await m.store.readAll(cp, 1000);
    if (page.events.length === 0) return out;
    out.push(...page.events);
    cp = page.checkpoint;
  }
}

async function freshChecksum(events: readonly StoredEvent[]): Promise<string> {
  const m = await openSqliteModels();
  try {
    await applyAll(m.projector, interleave(events, { seed: 77, maxBatch: 100 }));
    return (await m.projector.checksum()).digest;
  } finally {
    await m.close();
  }
}

describe('rebuild', () => {
  it('a full rebuild of the corpus equals the incrementally built models, and is switched live', async () => {
    const m = await openSqliteModels();
    try {
      await appendToStore(m.store, toStored(loadCorpus().events));
      const stored = await readStore(m);
      await applyAll(m.projector, interleave(stored, { seed: 8, maxBatch: 25 }));
      const incremental = await m.projector.checksum('v1');
      const phases: RebuildProgress[] = [];
      const r = await m.projector.rebuild(m.store, { batchSize: 100, onProgress: (p) => void phases.push(p) });
      expect(r).toMatchObject({ model: 'v2', events: stored.length, switched: true, previous: 'v1', deadLettered: 0 });
      expect(await m.projector.activeModel()).toBe('v2');
      expect((await m.projector.checksum('v2')).digest).toBe(incremental.digest);
      expect(phases.map((p) => p.phase)).toEqual(expect.arrayContaining(['replay', 'finalize', 'switch', 'done']));
      const replay = phases.filter((p) => p.phase === 'replay');
      expect(replay.length).toBe(Math.ceil(stored.length / 100));
      expect(replay.every((p) => p.eventsPerSecond > 0 && p.total === stored.length && p.etaSeconds !== null)).toBe(true);
      const models = await m.projector.models();
      expect(models.find((x) => x.model === 'v1')?.status).toBe('retired');
      expect(models.find((x) => x.model === 'v2')).toMatchObject({ status: 'active', active: true });
      // Live batches now land in v2 with the checkpoints carried over from v1.
      expect(await m.projector.checkpoint('0')).not.toBeNull();
      await m.projector.dropModel('v1');
      expect((await m.projector.models()).map((x) => x.model)).toEqual(['v2']);
    } finally {
      await m.close();
    }
  });

  it('builds beside the live version, which keeps answering and applying; the switch carries over what it applied meanwhile', async () => {
    const m = await openSqliteModels();
    try {
      const all = toStored(loadCorpus().events);
      const cut = Math.floor(all.length * 0.8);
      await appendToStore(m.store, all.slice(0, cut));
      await applyAll(m.projector, interleave(await readStore(m), { seed: 9 }));
      const beforeRebuild = await m.queries.divergence({ asOf: '2025-07-26' });
      let live = false;
      await m.projector.rebuild(m.store, {
        batchSize: 50,
        onProgress: async (p) => {
          if (p.phase !== 'replay' || live) return;
          live = true;
          expect(await m.projector.activeModel()).toBe('v1');
          expect(await m.queries.divergence({ asOf: '2025-07-26' })).toEqual(beforeRebuild);
          // New events arrive and the live projector applies them to v1 while v2 is being built.
          await appendToStore(m.store, all.slice(cut));
          const tail = (await readStore(m)).slice(cut);
          await m.projector.applyBatch('live', tail, tail.map((_, i) => String(i)));
        },
      });
      expect(live).toBe(true);
      expect(await m.projector.activeModel()).toBe('v2');
      const want = await freshChecksum(await readStore(m));
      expect((await m.projector.checksum('v2')).digest).toBe(want);
      expect((await m.projector.checksum('v1')).digest).toBe(want);
      expect(await m.projector.checkpoint('live')).toBe(String(all.length - cut - 1));
    } finally {
      await m.close();
    }
  });

  it('builds a named model as known at a past time, or up to a log position, and answers queries from it', async () => {
    const m = await openSqliteModels();
    try {
      await appendToStore(m.store, toStored(loadCorpus().events));
      const stored = await readStore(m);
      await applyAll(m.projector, interleave(stored, { seed: 10 }));
      const k = '2022-01-01';
      const r = await m.projector.rebuild(m.store, { name: 'known_2022', knownAt: k });
      expect(r).toMatchObject({ model: 'x_known_2022', switched: false });
      expect(await m.projector.activeModel()).toBe('v1');
      const subset = stored.filter((e) => norm(e.knowntime) <= norm(k));
      expect((await m.projector.checksum('x_known_2022')).digest).toBe(await freshChecksum(subset));
      // The named model answers "as known at 2022-01-01" like the live model asked with knownAt.
      const named = await m.queries.stances({ model: 'known_2022', asOf: '2021-06-01' });
      const live = await m.queries.stances({ knownAt: k, asOf: '2021-06-01' });
      expect(named.stances).toEqual(live.stances);
      const namedDiv = await m.queries.divergence({ model: 'known_2022', asOf: '2021-06-01' });
      const liveDiv = await m.queries.divergence({ knownAt: k, asOf: '2021-06-01' });
      expect(namedDiv.pairs).toEqual(liveDiv.pairs);

      const until = stored[299]?.position as string;
      await m.projector.rebuild(m.store, { name: 'first_300', untilPosition: until });
      expect((await m.projector.checksum('x_first_300')).digest).toBe(await freshChecksum(stored.slice(0, 300)));
      await expect(m.projector.rebuild(m.store, { name: 'first_300', untilPosition: until })).rejects.toThrow(/exists/);
      await m.projector.rebuild(m.store, { name: 'first_300', untilPosition: until, replace: true });
      await expect(m.queries.stances({ model: 'nope' })).rejects.toThrow(/no read model/);
    } finally {
      await m.close();
    }
  });

  it('a generated history: full rebuild equals incremental', async () => {
    const m = await openSqliteModels();
    try {
      await appendToStore(m.store, toStored(generateHistory({ seed: 5, events: 4000, stanceShare: 0.03, correctionShare: 0.02, retractionShare: 0.01 })));
      const stored = await readStore(m);
      await applyAll(m.projector, interleave(stored, { seed: 12, maxBatch: 200, minBatch: 50 }));
      const r = await m.projector.rebuild(m.store, { batchSize: 1000 });
      expect(r.events).toBe(4000);
      expect((await m.projector.checksum('v2')).digest).toBe((await m.projector.checksum('v1')).digest);
    } finally {
      await m.close();
    }
  }, 60_000);
});
