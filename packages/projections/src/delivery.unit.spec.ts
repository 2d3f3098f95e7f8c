import { loadCorpus } from '@regstream/corpus';
import type { StoredEvent } from '@regstream/domain';
import { Projector } from './projector';
import { applyAll, interleave, openSqliteModels, type TestBatch, toStored } from './testing';

const events = toStored(loadCorpus().events);
const batches = interleave(events, { seed: 4, maxBatch: 30 });

async function reference(): Promise<string> {
  const m = await openSqliteModels();
  await applyAll(m.projector, batches);
  const digest = (await m.projector.checksum()).digest;
  await m.close();
  return digest;
}

describe('exactly once under redelivery', () => {
  it('every batch delivered twice, overlapping re-reads and a restart from the checkpoint change nothing', async () => {
    const want = await reference();
    const m = await openSqliteModels();
    try {
      for (const b of batches) {
        const first = await m.projector.applyBatch(b.partition, b.events, b.offsets);
        const again = await m.projector.applyBatch(b.partition, b.events, b.offsets);
        expect(first.applied).toBe(b.events.length);
        expect(again).toMatchObject({ applied: 0, skipped: b.events.length });
      }
      // A consumer restarting from offset 0 of every partition (its committed offsets lost).
      const partitions = new Map<string, TestBatch>();
      for (const b of batches) {
        const p = partitions.get(b.partition) ?? { partition: b.partition, events: [], offsets: [] };
        p.events.push(...b.events);
        p.offsets.push(...b.offsets);
        partitions.set(b.partition, p);
      }
      const restarted = new Projector(m.dataSource);
      for (const p of partitions.values()) {
        expect(await restarted.checkpoint(p.partition)).toBe(p.offsets[p.offsets.length - 1]);
        expect((await restarted.applyBatch(p.partition, p.events, p.offsets)).applied).toBe(0);
      }
      // The relay published an event twice: same id at a new offset is a duplicate, nothing changes.
      const p0 = partitions.get('0') as TestBatch;
      const dup = await restarted.applyBatch('0', [p0.events[0] as StoredEvent], [String(p0.offsets.length + 100)]);
      expect(dup).toMatchObject({ applied: 0, duplicates: 1 });
      expect(await restarted.checkpoint('0')).toBe(String(p0.offsets.length + 100));
      expect((await m.projector.checksum()).digest).toBe(want);
    } finally {
      await m.close();
    }
  });

  it('a failed transaction leaves neither read-model changes nor the checkpoint behind', async () => {
    const m = await openSqliteModels();
    try {
      const b = batches[0] as TestBatch;
      // The checkpoint write is the last statement of the transaction: make it fail.
      await m.dataSource.query(`ALTER TABLE rm_checkpoints RENAME TO rm_checkpoints_away`);
      await expect(m.projector.applyBatch(b.partition, b.events, b.offsets)).rejects.toThrow(/rm_checkpoints/);
      await m.dataSource.query(`ALTER TABLE rm_checkpoints_away RENAME TO rm_checkpoints`);
      expect(await m.projector.checkpoint(b.partition)).toBeNull();
      expect((await m.dataSource.query<{ n: number }[]>(`SELECT count(*) AS n FROM rm_v1_facts`))[0]?.n).toBe(0);
      expect((await m.dataSource.query<{ n: number }[]>(`SELECT count(*) AS n FROM rm_v1_milestones`))[0]?.n).toBe(0);
      // Redelivered, it applies.
      expect((await m.projector.applyBatch(b.partition, b.events, b.offsets)).applied).toBe(b.events.length);
    } finally {
      await m.close();
    }
  });
});

describe('poison events', () => {
  it('go to the dead-letter table with error and payload, do not stop the partition, and can be retried', async () => {
    const want = await reference();
    const victim = (events.find((e) => e.type === 'StanceCoded' && (e.data as { jurisdiction: string }).jurisdiction === 'EU') as StoredEvent).id;
    let broken = true;
    const m = await openSqliteModels({
      beforeApply: (e) => {
        if (broken && e.id === victim) throw new Error('handler bug');
      },
    });
    try {
      const garbage = { ...(events[0] as StoredEvent), id: 'poison-1', type: 'NoSuchEvent', position: '999999' } as unknown as StoredEvent;
      const invalid = { ...(events[0] as StoredEvent), id: 'poison-2', data: { instrumentId: 'Not Kebab' }, position: '999998' } as unknown as StoredEvent;
      const first = batches[0] as TestBatch;
      await m.projector.applyBatch(first.partition, [garbage, ...first.events, invalid], ['0', ...first.offsets.map((o) => String(Number(o) + 1)), String(first.events.length + 1)]);
      const rest = batches.slice(1).map((b) => (b.partition === first.partition ? { ...b, offsets: b.offsets.map((o) => String(Number(o) + 2)) } : b));
      await applyAll(m.projector, rest);

      const letters = await m.projector.deadLetters();
      expect(letters.map((d) => d.eventId).sort()).toEqual(['poison-1', 'poison-2', victim].sort());
      const handler = letters.find((d) => d.eventId === victim);
      expect(handler?.error).toContain('handler bug');
      expect(handler?.payload.id).toBe(victim);
      expect(handler?.payload.data).toEqual((events.find((e) => e.id === victim) as StoredEvent).data);
      expect(letters.find((d) => d.eventId === 'poison-1')?.error).toContain("unknown event type 'NoSuchEvent'");
      expect(letters.find((d) => d.eventId === 'poison-2')?.error).toContain('instrumentId');
      // The partition went on: every other event was applied.
      expect((await m.dataSource.query<{ n: number }[]>(`SELECT count(*) AS n FROM rm_v1_facts`))[0]?.n).toBe(events.length - 1);

      // Still broken: the retry fails and counts the attempt.
      const failedAgain = await m.projector.retryDeadLetter(handler?.id as number);
      expect(failedAgain).toMatchObject({ ok: false, deadLetter: { attempts: 2, status: 'open' } });
      // Fixed: the retry applies it, the models equal a clean run.
      broken = false;
      expect(await m.projector.retryDeadLetter(handler?.id as number)).toMatchObject({ ok: true, deadLetter: { status: 'resolved' } });
      const garbageLetter = letters.find((d) => d.eventId === 'poison-1');
      expect((await m.projector.retryDeadLetter(garbageLetter?.id as number)).ok).toBe(false);
      expect(await m.projector.discardDeadLetter(garbageLetter?.id as number)).toBe(true);
      expect((await m.projector.deadLetters()).map((d) => d.eventId)).toEqual(['poison-2']);
      expect((await m.projector.deadLetters({ status: 'all' })).length).toBe(3);
      expect((await m.projector.checksum()).digest).toBe(want);
    } finally {
      await m.close();
    }
  });
});
