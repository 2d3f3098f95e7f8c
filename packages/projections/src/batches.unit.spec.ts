import type { StoredEvent } from '@regstream/domain';
import { applyAll, generateHistory, interleave, openSqliteModels, type TestBatch, toStored } from './testing';

/** Groups consecutive batches of different partitions, as the projector service does while a transaction runs. */
function groups(batches: readonly TestBatch[], size: number): TestBatch[][] {
  const out: TestBatch[][] = [];
  for (let i = 0; i < batches.length; i += size) out.push(batches.slice(i, i + size));
  return out;
}

describe('applyBatches: several partitions in one transaction', () => {
  const events = toStored(generateHistory({ seed: 17, events: 1500, stanceShare: 0.15, correctionShare: 0.03, retractionShare: 0.01 }));
  const batches = interleave(events, { seed: 3, partitions: 5, maxBatch: 40 });

  it('builds what one batch at a time builds, with each partition at its own checkpoint', async () => {
    const one = await openSqliteModels();
    const many = await openSqliteModels();
    try {
      await applyAll(one.projector, batches);
      for (const g of groups(batches, 4)) await many.projector.applyBatches(g);
      expect((await many.projector.checksum()).digest).toBe((await one.projector.checksum()).digest);
      for (const p of ['0', '1', '2', '3', '4']) expect(await many.projector.checkpoint(p)).toBe(await one.projector.checkpoint(p));
    } finally {
      await one.close();
      await many.close();
    }
  }, 60_000);

  it('skips what a partition already applied, counts per partition, and dead-letters poison events under their partition', async () => {
    const poisonId = (events.find((e) => e.type === 'StanceCoded') as StoredEvent).id;
    const m = await openSqliteModels({
      beforeApply: (e) => {
        if (e.id === poisonId) throw new Error('poison');
      },
    });
    try {
      const first = batches.slice(0, 6);
      await m.projector.applyBatches(first);
      // Redelivered together with new batches: the old ones are skipped by offset.
      const outcomes = await m.projector.applyBatches([...first, ...batches.slice(6, 10)]);
      const byPartition = new Map(outcomes.map((o) => [o.partition, o]));
      expect(new Set(outcomes.map((o) => o.partition)).size).toBe(outcomes.length);
      const redelivered = first.reduce((n, b) => n + b.events.length, 0);
      expect(outcomes.reduce((n, o) => n + o.skipped, 0)).toBe(redelivered);
      for (const b of batches.slice(6, 10)) expect(byPartition.get(b.partition)?.applied).toBeGreaterThan(0);
      await applyAllRest(m, batches.slice(10));
      const poisonBatch = batches.find((b) => b.events.some((e) => e.id === poisonId)) as TestBatch;
      const dl = await m.projector.deadLetters();
      expect(dl.map((d) => [d.eventId, d.partition])).toEqual([[poisonId, poisonBatch.partition]]);
    } finally {
      await m.close();
    }
  }, 60_000);
});

async function applyAllRest(m: Awaited<ReturnType<typeof openSqliteModels>>, rest: readonly TestBatch[]): Promise<void> {
  for (const g of groups(rest, 3)) await m.projector.applyBatches(g);
}
