import { loadCorpus } from '@regstream/corpus';
import { CODEBOOK_V1 } from '@regstream/domain';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { Queries, UnknownModelError } from './queries';
import { appendToStore, applyAll, generateHistory, interleave, openPostgresModels, type TestModels, toStored } from './testing';

const NOW = new Date('2026-11-29T00:00:00Z');
const clock = () => NOW;
const DIMS = CODEBOOK_V1.dimensions.map((d) => d.id);

let db: TestDatabase;
let m: TestModels;
/** The reads one statement at a time in a snapshot transaction: what the combined statement must equal. */
let reference: Queries;

beforeAll(async () => {
  db = await createTestDatabase('rs_queries');
  m = await openPostgresModels(db.url, { clock });
  reference = new Queries(m.dataSource, { clock, combined: false });
  const events = toStored([...loadCorpus().events, ...generateHistory({ seed: 23, events: 1500, stanceShare: 0.1, correctionShare: 0.03, retractionShare: 0.02 })]);
  await appendToStore(m.store, events);
  await applyAll(m.projector, interleave(events, { seed: 4, maxBatch: 200 }));
});
afterAll(async () => {
  await m.close();
  await db.drop();
});

const instants: [string | undefined, string | undefined][] = [
  [undefined, undefined],
  ['2019-06-01', undefined],
  ['2022-03-15', '2021-01-01'],
  ['2025-07-26', undefined],
  ['2026-11-29', '2024-05-05'],
  ['2031-01-01', '2020-02-02'],
];
const at = (asOf: string | undefined, knownAt: string | undefined) => ({ ...(asOf ? { asOf } : {}), ...(knownAt ? { knownAt } : {}) });

describe('as-of queries in one statement (PostgreSQL)', () => {
  it('divergence answers exactly as the statement-by-statement reads, stored and computed', async () => {
    const variants = [
      {},
      { jurisdictions: ['EU', 'US', 'CN', 'INTL-OECD', 'IN'] },
      { jurisdictions: ['US', 'EU'] },
      { dimensions: ['human_oversight'] },
      { dimensions: [...DIMS] },
      { jurisdictions: ['EU', 'GB', 'JP'], variant: 'de_jure' as const },
      { weights: 'equal' as const },
      { jurisdictions: ['EU', 'XX', 'CN'] },
    ];
    for (const [asOf, knownAt] of instants) {
      for (const v of variants) {
        const q = { ...at(asOf, knownAt), ...v };
        const one = await m.queries.divergence(q);
        expect(one).toEqual(await reference.divergence(q));
      }
    }
  });

  it('timeline answers exactly as the statement-by-statement reads: order, titles, truncation, coverage', async () => {
    const variants = [
      { jurisdictions: ['EU'], from: '2023-01-01', to: '2025-01-01', limit: 100 },
      { jurisdictions: ['EU', 'US', 'EU'], limit: 20 },
      { limit: 50 },
      {},
      { types: ['ProvisionBecameApplicable'], from: '2026-01-01' },
      { instruments: ['eu-ai-act'] },
      { jurisdictions: ['ZZ'] },
    ];
    for (const [asOf, knownAt] of instants) {
      for (const v of variants) {
        const q = { ...at(asOf, knownAt), ...v };
        const one = await m.queries.timeline(q);
        expect(one).toEqual(await reference.timeline(q));
      }
    }
    // Every page size: a page that ends inside a run of milestones on one day takes the same ones.
    for (let limit = 1; limit <= 60; limit++) {
      for (const q of [{ limit }, { limit, jurisdictions: ['EU'], knownAt: '2025-01-01' }, { limit, jurisdictions: ['US', 'CN'], from: '2024-01-01' }]) {
        expect(await m.queries.timeline(q)).toEqual(await reference.timeline(q));
      }
    }
    const page = await m.queries.timeline({ limit: 5 });
    expect(page.truncated).toBe(true);
    expect(page.lanes.flatMap((l) => l.milestones)).toHaveLength(5);
  });

  it('a named model answers from its own tables; an unknown or unfinished one is a validation error', async () => {
    await expect(m.queries.divergence({ model: 'v1', asOf: '2024-01-01' })).resolves.toEqual(await reference.divergence({ asOf: '2024-01-01' }));
    await expect(m.queries.divergence({ model: 'nope' })).rejects.toBeInstanceOf(UnknownModelError);
    await expect(m.queries.timeline({ model: 'v77' })).rejects.toBeInstanceOf(UnknownModelError);
    await expect(m.queries.timeline({ model: 'Bad Name' })).rejects.toBeInstanceOf(UnknownModelError);
    await m.dataSource.query(`INSERT INTO rm_models (model, kind, status, params, layout, created_at, events) VALUES ('x_half', 'named', 'building', '{}', 1, '2026-01-01', 0)`);
    await m.dataSource.query(`CREATE TABLE rm_x_half_stances (LIKE rm_v1_stances)`);
    try {
      await expect(m.queries.divergence({ model: 'half' })).rejects.toBeInstanceOf(UnknownModelError);
    } finally {
      await m.dataSource.query(`DROP TABLE rm_x_half_stances`);
      await m.dataSource.query(`DELETE FROM rm_models WHERE model = 'x_half'`);
    }
  });

  it('follows the live model when a rebuild switches it, also once the old model is dropped', async () => {
    // Three processes' caches: each has seen v1 live.
    const seenBeforeSwitch = [new Queries(m.dataSource, { clock }), new Queries(m.dataSource, { clock })];
    for (const q of seenBeforeSwitch) expect((await q.divergence({ asOf: '2024-01-01' })).freshness).toEqual((await reference.divergence({ asOf: '2024-01-01' })).freshness);
    const before = await m.queries.timeline({ asOf: '2024-01-01', jurisdictions: ['EU'] });
    // Marks the old model, so that an answer read from it would differ from the new one's.
    await m.dataSource.query(`DELETE FROM rm_v1_milestones WHERE jurisdiction = 'EU'`);
    await m.dataSource.query(`DELETE FROM rm_v1_div_points`);
    const r = await m.projector.rebuild(m.store, { batchSize: 500 });
    expect(r).toMatchObject({ model: 'v2', switched: true });
    const [afterSwitch, afterDrop] = seenBeforeSwitch as [Queries, Queries];
    const div = await reference.divergence({ asOf: '2024-01-01' });
    expect(div.freshness.position).not.toBeNull();
    // Switched, old model still there: the statement's own check of rm_state sends it to v2.
    expect(await afterSwitch.divergence({ asOf: '2024-01-01' })).toEqual(div);
    const timeline = await reference.timeline({ asOf: '2024-01-01', jurisdictions: ['EU'] });
    expect(timeline.lanes).toEqual(before.lanes);
    expect(await afterSwitch.timeline({ asOf: '2024-01-01', jurisdictions: ['EU'] })).toEqual(timeline);
    // Old model dropped: its tables are gone, the statement fails and is run again on the live model.
    await m.projector.dropModel('v1');
    expect(await afterDrop.divergence({ asOf: '2024-01-01' })).toEqual(div);
    expect(await afterDrop.timeline({ asOf: '2024-01-01', jurisdictions: ['EU'] })).toEqual(timeline);
    expect(await m.queries.divergence({ asOf: '2024-01-01' })).toEqual(div);
    await expect(afterDrop.divergence({ model: 'v1' })).rejects.toBeInstanceOf(UnknownModelError);
  });
});
