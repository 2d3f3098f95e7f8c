import { loadCorpus } from '@regstream/corpus';
import { InProcessBus } from '@regstream/messaging';
import { waitFor } from '@regstream/test-helpers';
import { applyAll, generateHistory, interleave, openSqliteModels, toStored } from './testing';

/** Builds a model from a set of events delivered in some way; returns its checksum. */
async function checksumOf(deliver: (m: Awaited<ReturnType<typeof openSqliteModels>>) => Promise<void>): Promise<string> {
  const m = await openSqliteModels();
  try {
    await deliver(m);
    expect(await m.projector.deadLetters()).toEqual([]);
    return (await m.projector.checksum()).digest;
  } finally {
    await m.close();
  }
}

describe('read models do not depend on how streams interleave', () => {
  it('the corpus in different per-partition interleavings, batch sizes and partition counts gives one checksum', async () => {
    const events = toStored(loadCorpus().events);
    const once = await checksumOf((m) => applyAll(m.projector, [{ partition: '0', events, offsets: events.map((_, i) => String(i)) }]));
    const a = await checksumOf((m) => applyAll(m.projector, interleave(events, { seed: 1, partitions: 6, maxBatch: 40 })));
    const b = await checksumOf((m) => applyAll(m.projector, interleave(events, { seed: 99, partitions: 3, maxBatch: 7 })));
    // Worst case for known-time order: every stream delivered in reverse stream order of the log.
    const byStream = new Map<string, typeof events>();
    for (const e of events) byStream.set(e.subject, [...(byStream.get(e.subject) ?? []), e]);
    const reversed = [...byStream.values()].reverse().flat();
    const c = await checksumOf((m) => applyAll(m.projector, interleave(reversed, { seed: 5, partitions: 1, maxBatch: 13 })));
    expect(a).toBe(once);
    expect(b).toBe(once);
    expect(c).toBe(once);
  });

  it('a generated history with corrections and retractions, in two interleavings, gives one checksum', async () => {
    const events = toStored(generateHistory({ seed: 21, events: 2000, stanceShare: 0.05, correctionShare: 0.02, retractionShare: 0.01 }));
    const a = await checksumOf((m) => applyAll(m.projector, interleave(events, { seed: 2, maxBatch: 150 })));
    const b = await checksumOf((m) => applyAll(m.projector, interleave(events, { seed: 3, partitions: 4, maxBatch: 60 })));
    expect(b).toBe(a);
  }, 60_000);

  it('through the in-process bus (as the projector module consumes it) the corpus gives the same checksum', async () => {
    const events = toStored(loadCorpus().events);
    const direct = await checksumOf((m) => applyAll(m.projector, [{ partition: '0', events, offsets: events.map((_, i) => String(i)) }]));
    const viaBus = await checksumOf(async (m) => {
      const bus = new InProcessBus(6);
      const source = bus.source();
      await source.run({ groupId: 'projector', checkpoint: (p) => m.projector.checkpoint(p) }, async (b) => {
        await m.projector.applyBatch(b.partition, b.events, b.offsets);
      });
      for (let i = 0; i < events.length; i += 37) await bus.publish(events.slice(i, i + 37));
      await waitFor(async () => (await m.dataSource.query<{ n: number }[]>(`SELECT count(*) AS n FROM rm_v1_facts`))[0]?.n === events.length || undefined);
      await source.stop();
      await bus.close();
    });
    expect(viaBus).toBe(direct);
  });
});
