import { loadCorpus } from '@regstream/corpus';
import type { StoredEvent } from '@regstream/domain';
import { START } from '@regstream/event-store';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { ProjectionsBitemporalIndexesPostgres1764400000700 } from './migrations';
import { SqlDb } from './sql';
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
  // Tables changed behind the projectors' back: their warm states must not match (see warm.ts).
  await m.dataSource.query(`TRUNCATE rm_checkpoints, rm_dead_letters, rm_model_tokens, outbox, events, streams, idempotency_keys RESTART IDENTITY CASCADE`);
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
    // The rebuilt model answers with planner statistics (a bulk-filled table has none otherwise).
    const analyzed = await m.dataSource.query<{ relname: string }[]>(
      `SELECT relname FROM pg_stat_user_tables WHERE relname LIKE $1 AND last_analyze IS NOT NULL ORDER BY relname`,
      [`rm_${r.model}_%`],
    );
    expect(analyzed.map((x) => x.relname)).toEqual(['applicability', 'div_points', 'facts', 'instruments', 'jurisdictions', 'milestones', 'stances'].map((t) => `rm_${r.model}_${t}`));
  });
});

describe('writes sent as one query (inlined literals) read back as bound parameters do', () => {
  it('strings with quotes, backslashes, unicode and JSON escapes, numbers, booleans, arrays with nulls', async () => {
    const values: unknown[] = [
      "it's",
      'back\\slash \\\\ and \\n not a newline',
      "E'\\''",
      'ünïcödé ✓ 中文 \u{1F600}',
      JSON.stringify({ a: "q'uote", b: 'back\\slash', c: 'line\nbreak', d: '\u0001' }),
      '',
      42,
      -1.5,
      12345678901234567890n,
      true,
      ['a', "b'c", 'd"e', 'f\\g', null, ''],
      [],
    ];
    const { pgLiteral, inlineParams, SCRIPT_PREAMBLE } = await import('./sql');
    const inTx = async <R>(sql: string): Promise<R | undefined> => {
      const qr = m.dataSource.createQueryRunner();
      try {
        await qr.startTransaction();
        // A server default of off must not matter: the script sets it for its own transaction.
        await qr.query('SET LOCAL standard_conforming_strings = off');
        await qr.query(SCRIPT_PREAMBLE);
        const rows = (await qr.query(sql)) as R[];
        await qr.commitTransaction();
        return rows[0];
      } finally {
        await qr.release();
      }
    };
    for (const v of values) {
      const [bound] = await m.dataSource.query<{ x: string | null }[]>(`SELECT $1::text AS x`, [v]);
      const inlined = await inTx<{ x: string | null }>(`SELECT ${pgLiteral(v)}::text AS x`);
      expect(inlined?.x).toBe(bound?.x);
    }
    const arr = await inTx<{ x: (string | null)[] }>(inlineParams(`SELECT ?::text[] AS x`, [['a', "b'c", 'd"e', 'f\\g', null]]));
    expect(arr?.x).toEqual(['a', "b'c", 'd"e', 'f\\g', null]);
    const json = await inTx<{ x: unknown }>(inlineParams(`SELECT (?::jsonb)->0->>1 AS x`, [JSON.stringify([[1, "it's \\ \"q\""]])]));
    expect(json?.x).toBe('it\'s \\ "q"');
    expect(() => inlineParams('SELECT ?, ?', [1])).toThrow(RangeError);
  });
});

describe('migration: known-time columns in the first index of milestones and stances (ADR 0010)', () => {
  const indexdefs = async () =>
    (
      await m.dataSource.query<{ indexname: string; indexdef: string }[]>(
        `SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN ('rm_v1_milestones_ix0', 'rm_v1_stances_ix0') ORDER BY indexname`,
      )
    ).map((x) => `${x.indexname}: ${x.indexdef.replace(/^.* USING btree /, '')}`);

  it('gives a model built before the index it now has, and down gives the old one back', async () => {
    const migration = new ProjectionsBitemporalIndexesPostgres1764400000700();
    const qr = m.dataSource.createQueryRunner();
    try {
      await migration.down(qr);
      expect(await indexdefs()).toEqual(['rm_v1_milestones_ix0: (jurisdiction, vt)', 'rm_v1_stances_ix0: (jurisdiction, dimension, vt_from)']);
      // A model whose tables are gone (a failed build) is passed over.
      await m.dataSource.query(`INSERT INTO rm_models (model, kind, version, name, status, params, layout, created_at, events) VALUES ('v99', 'version', 99, NULL, 'failed', '{}', 1, 'x', 0)`);
      await migration.up(qr);
      expect(await indexdefs()).toEqual(['rm_v1_milestones_ix0: (jurisdiction, vt, kt_from, kt_to)', 'rm_v1_stances_ix0: (jurisdiction, dimension, vt_from, kt_from, kt_to)']);
    } finally {
      await m.dataSource.query(`DELETE FROM rm_models WHERE model = 'v99'`);
      await qr.release();
    }
  });
});

describe('a unit whose connection is lost between two round trips', () => {
  it('fails that unit only: the process survives, the connection is discarded, the next unit runs', async () => {
    const sql = new SqlDb(m.dataSource);
    const lost = sql.unit(async (u) => {
      const [row] = await u.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid`);
      await m.dataSource.query(`SELECT pg_terminate_backend($1)`, [row?.pid]);
      // The connection's 'error' arrives while no query is in flight (unhandled, it would end the process).
      await new Promise((r) => setTimeout(r, 200));
      await u.query(`SELECT 1`);
    });
    await expect(lost).rejects.toThrow();
    const next = await sql.unit(async (u) => (await u.query<{ n: number }>(`SELECT 1 AS n`))[0]?.n);
    expect(next).toBe(1);
  });
});
