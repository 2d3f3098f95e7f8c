import { loadCorpus } from '@regstream/corpus';
import type { StoredEvent } from '@regstream/domain';
import { START } from '@regstream/event-store';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { type Projector } from './projector';
import { applyAll, appendToStore, generateHistory, interleave, openPostgresModels, openSqliteModels, type TestBatch, type TestModels, toStored } from './testing';

let db: TestDatabase;
let m: TestModels;
beforeAll(async () => {
  db = await createTestDatabase('rs_proj');
  m = await openPostgresModels(db.url);
});
afterAll(async () => {
  await m.close();
  await db.drop();
});

async function reset(): Promise<void> {
  const models = await m.dataSource.query<{ model: string }[]>(`SELECT model FROM rm_models WHERE model <> 'v1'`);
  for (const x of models) await m.projector.dropModel(x.model).catch(() => undefined);
  await m.dataSource.query(`UPDATE rm_state SET active_model = 'v1'`);
  for (const t of ['facts', 'instruments', 'milestones', 'applicability', 'stances', 'div_points', 'jurisdictions']) await m.dataSource.query(`TRUNCATE rm_v1_${t}`);
  await m.dataSource.query(`TRUNCATE rm_checkpoints, rm_dead_letters, outbox, events, streams, idempotency_keys RESTART IDENTITY CASCADE`);
}

async function readStore(): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  let cp = START;
  for (;;) {
    const page = await m.store.readAll(cp, 2000);
    if (page.events.length === 0) return out;
    out.push(...page.events);
    cp = page.checkpoint;
  }
}

const corpus = toStored(loadCorpus().events);

describe('read models on PostgreSQL', () => {
  beforeEach(reset);

  it('the same events give the same checksum on PostgreSQL and SQLite', async () => {
    const batches = interleave(corpus, { seed: 31 });
    await applyAll(m.projector, batches);
    const pg = await m.projector.checksum();
    const lite = await openSqliteModels();
    try {
      await applyAll(lite.projector, batches);
      const sqlite = await lite.projector.checksum();
      expect(pg.tables).toEqual(sqlite.tables);
      expect(pg.digest).toBe(sqlite.digest);
    } finally {
      await lite.close();
    }
    const q = await m.queries.instrument('eu-ai-act', { knownAt: '2026-08-01' });
    expect(q?.applicability.find((a) => a.provision.includes('Annex III'))?.appliesFrom).toBe('2027-12-02');
  });

  it('two projectors on separate connections, sharing the partitions concurrently, build what one builds', async () => {
    const events = toStored(generateHistory({ seed: 3, events: 3000, stanceShare: 0.06, correctionShare: 0.02, retractionShare: 0.01 }));
    const batches = interleave(events, { seed: 5, maxBatch: 60 });
    await applyAll(m.projector, batches);
    const want = (await m.projector.checksum()).digest;
    await reset();
    const second = await openPostgresModels(db.url);
    try {
      const mine = (p: string) => Number(p) % 2 === 0;
      const run = (projector: Projector, pick: (b: TestBatch) => boolean) => applyAll(projector, batches.filter(pick));
      await Promise.all([run(m.projector, (b) => mine(b.partition)), run(second.projector, (b) => !mine(b.partition))]);
      expect((await m.projector.checksum()).digest).toBe(want);
    } finally {
      await second.close();
    }
  }, 60_000);

  it('two projectors applying at once, with corrections in streams of their own, build what one builds', async () => {
    // A batch of one partition then recomputes keys (stance rows, applicability, corrected events)
    // that batches of other partitions write too: the apply lock must make the later one see both.
    let n = 0;
    const history = generateHistory({ seed: 8, events: 2000, stanceShare: 0.2, correctionShare: 0.08, retractionShare: 0.03 }).map((e) =>
      e.type === 'RecordCorrected' || e.type === 'RecordRetracted' ? { ...e, subject: `corrections-${n++ % 7}` } : e,
    );
    const batches = interleave(toStored(history), { seed: 9, partitions: 6, maxBatch: 25 });
    await applyAll(m.projector, batches);
    const want = await m.projector.checksum();
    await reset();
    const second = await openPostgresModels(db.url);
    try {
      const byPartition = new Map<string, TestBatch[]>();
      for (const b of batches) byPartition.set(b.partition, [...(byPartition.get(b.partition) ?? []), b]);
      // Each partition on its own chain, alternating between the two projectors' connections.
      await Promise.all(
        [...byPartition.values()].map(async (list, i) => {
          for (const b of list) await applyAll(i % 2 === 0 ? m.projector : second.projector, [b]);
        }),
      );
      const got = await m.projector.checksum();
      expect(got.tables).toEqual(want.tables);
      expect(got.digest).toBe(want.digest);
    } finally {
      await second.close();
    }
  }, 120_000);

  it('a failed transaction rolls back read models and checkpoint together', async () => {
    const b = interleave(corpus, { seed: 2 })[0] as TestBatch;
    await m.dataSource.query(`ALTER TABLE rm_checkpoints RENAME TO rm_checkpoints_away`);
    try {
      await expect(m.projector.applyBatch(b.partition, b.events, b.offsets)).rejects.toThrow();
    } finally {
      await m.dataSource.query(`ALTER TABLE rm_checkpoints_away RENAME TO rm_checkpoints`);
    }
    expect(await m.projector.checkpoint(b.partition)).toBeNull();
    expect((await m.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM rm_v1_facts`))[0]?.n).toBe(0);
  });

  it('rebuild from the PostgreSQL store equals the incremental models and switches live', async () => {
    await appendToStore(m.store, corpus);
    const stored = await readStore();
    await applyAll(m.projector, interleave(stored, { seed: 6 }));
    const r = await m.projector.rebuild(m.store, { batchSize: 200 });
    expect(r.switched).toBe(true);
    const [rebuilt, incremental] = [await m.projector.checksum(r.model), await m.projector.checksum('v1')];
    // Per table first: a difference names the table.
    expect(rebuilt.tables).toEqual(incremental.tables);
    expect(rebuilt.digest).toBe(incremental.digest);
    const dl = await m.projector.deadLetters();
    expect(dl).toEqual([]);
  });
});
