import { CODEBOOK_V1, pairMatrix, aggregateIndex, pairwiseIndex, type Profile, stanceMatrix, type AnyEnvelope } from '@regstream/domain';
import { loadCorpus } from '@regstream/corpus';
import { asLog, generateHistory, interleave, openSqliteModels, oracleApplicability, oracleMilestones, oracleStances, type TestModels, toStored, applyAll } from './testing';

const NOW = new Date('2026-11-29T00:00:00Z');
const ANNEX_III = 'Chapter III Sections 1-3 for high-risk AI systems under Art. 6(2) / Annex III (stand-alone)';

function profiles(log: ReturnType<typeof asLog>, asOf: string, knownAt?: string): (j: string) => Profile {
  const m = stanceMatrix(log, asOf, knownAt);
  return (j) => new Map([...(m.get(j) ?? new Map()).entries()].map(([d, s]) => [d, { value: s.value, confidence: s.confidence }]));
}

/** Every read model against the domain's bitemporal functions at a set of (asOf, knownAt) points. */
async function expectDomainParity(m: TestModels, events: ReturnType<typeof toStored>, points: readonly (readonly [string, string | undefined])[], instruments: readonly string[]): Promise<void> {
  const log = asLog(events);
  for (const [asOf, knownAt] of points) {
    const q = { asOf, ...(knownAt !== undefined ? { knownAt } : {}) };
    const want = oracleStances(log, asOf, knownAt);
    const got = await m.queries.stances(q);
    expect(new Map(got.stances.map((s) => [`${s.jurisdiction}/${s.dimension}`, { eventId: s.eventId, value: s.value, validFrom: s.validFrom }]))).toEqual(want);

    const profile = profiles(log, asOf, knownAt);
    const div = await m.queries.divergence(q);
    for (const p of div.pairs) expect(p.value).toBe(pairwiseIndex(CODEBOOK_V1, profile(p.a), profile(p.b)).value);
    const all = new Map(div.jurisdictions.map((j) => [j, profile(j)]));
    expect(div.global.value).toBe(aggregateIndex(pairMatrix(CODEBOOK_V1, all, div.jurisdictions)).value);

    const tl = await m.queries.timeline({ ...q, limit: 10000 });
    expect(new Map(tl.lanes.flatMap((l) => l.milestones.map((x) => [x.eventId, x.validTime] as const)))).toEqual(oracleMilestones(log, knownAt));
    for (const id of instruments) {
      const got = (await m.queries.applicability(id, q)).map((a) => ({ provision: a.provision, appliesFrom: a.appliesFrom })).sort((x, y) => (x.provision < y.provision ? -1 : 1));
      expect(got).toEqual(oracleApplicability(log, id, asOf, knownAt));
    }
  }
}

describe('bitemporal read models on the corpus', () => {
  let m: TestModels;
  const events = toStored(loadCorpus().events);
  beforeAll(async () => {
    m = await openSqliteModels({ clock: () => NOW });
    await applyAll(m.projector, interleave(events, { seed: 11 }));
  });
  afterAll(() => m.close());

  it('EU Annex III high-risk obligations: from 2026-08-02 as known at 2026-06-01, from 2027-12-02 as known at 2026-08-01', async () => {
    const before = await m.queries.instrument('eu-ai-act', { knownAt: '2026-06-01' });
    const after = await m.queries.instrument('eu-ai-act', { knownAt: '2026-08-01' });
    const annex = (r: typeof before) => r?.applicability.find((a) => a.provision === ANNEX_III);
    expect(annex(before)?.appliesFrom).toBe('2026-08-02');
    expect(annex(after)?.appliesFrom).toBe('2027-12-02');
    expect(annex(after)?.history.map((h) => h.type)).toEqual(['ProvisionBecameApplicable', 'ApplicationPostponed']);
    // Valid time matters too: as known at 2026-08-01, but on 2026-07-01 the postponing act was not yet in force.
    const early = await m.queries.instrument('eu-ai-act', { knownAt: '2026-08-01', asOf: '2026-07-01' });
    expect(annex(early)?.appliesFrom).toBe('2026-08-02');
    // Nothing known about the AI Act before its proposal was published.
    expect(await m.queries.instrument('eu-ai-act', { knownAt: '2021-01-01' })).toBeNull();
  });

  it('upcoming applicability follows what is known', async () => {
    const then = await m.queries.upcoming({ asOf: '2026-06-01', knownAt: '2026-06-01', days: 120, jurisdictions: ['EU'] });
    expect(then.items.map((i) => i.provision)).toContain(ANNEX_III);
    const now = await m.queries.upcoming({ asOf: '2026-06-01', knownAt: '2026-08-01', days: 120, jurisdictions: ['EU'] });
    // The postponement is known but not yet in force on 2026-06-01: still listed for 2026-08-02.
    expect(now.items.find((i) => i.provision === ANNEX_III)?.appliesFrom).toBe('2026-08-02');
    const later = await m.queries.upcoming({ asOf: '2026-08-01', days: 600, jurisdictions: ['EU'] });
    expect(later.items.find((i) => i.provision === ANNEX_III)?.appliesFrom).toBe('2027-12-02');
  });

  it('instrument status follows the lifecycle in valid time', async () => {
    const status = async (asOf: string) => (await m.queries.instruments({ asOf, instruments: ['eu-ai-act'] })).instruments[0]?.status;
    expect(await status('2021-01-01')).toBe('registered');
    expect(await status('2021-06-01')).toBe('proposed');
    expect(await status('2023-12-10')).toBe('agreed');
    expect(await status('2024-09-01')).toBe('in_force');
    expect(await status('2025-03-01')).toBe('applicable');
  });

  it('timeline lanes are in valid-time order and include future milestones with citations', async () => {
    const tl = await m.queries.timeline({ jurisdictions: ['EU'] });
    const ms = tl.lanes[0]?.milestones ?? [];
    expect(tl.lanes.map((l) => l.jurisdiction)).toEqual(['EU']);
    expect(ms.map((x) => x.validTime)).toEqual([...ms.map((x) => x.validTime)].sort());
    expect(ms.some((x) => x.future && x.validTime === '2030-12-31')).toBe(true);
    expect(ms.every((x) => x.citation?.url.startsWith('http'))).toBe(true);
    expect(ms.find((x) => x.instrumentId === 'eu-ai-act')?.instrumentTitle).toMatch(/Artificial Intelligence Act/);
  });

  it('matches the domain functions at many (asOf, knownAt) points', async () => {
    const ids = [...new Set(events.filter((e) => e.type === 'ProvisionBecameApplicable').map((e) => (e.data as { instrumentId: string }).instrumentId))];
    await expectDomainParity(
      m,
      events,
      [
        ['2025-07-26', undefined],
        ['2019-06-01', '2020-01-01'],
        ['2024-01-01', '2023-06-30'],
        ['2026-11-29', '2026-08-01'],
        ['2028-01-01', undefined],
      ],
      ids,
    );
  });

  it('the divergence series changes in valid time and, separately, in known time', async () => {
    const now = await m.queries.series({ a: 'EU', b: 'US' });
    const then = await m.queries.series({ a: 'EU', b: 'US', knownAt: '2020-01-01' });
    expect(then.points.length).toBeGreaterThan(0);
    expect(now.points.length).toBeGreaterThan(then.points.length);
    expect(now.points.map((p) => p.validFrom)).toEqual([...now.points.map((p) => p.validFrom)].sort());
    expect(now.codebookVersion).toBe('1.0.0');
    expect(now.methodologyVersion).toBe('divergence-1');
    for (const p of now.points) expect(p.causedBy.length).toBeGreaterThan(0);
  });
});

describe('corrections and retractions change what is known from their own known time', () => {
  const base = {
    specversion: '1.0',
    source: 'test',
    schemaversion: 1,
    time: '2026-01-01T00:00:00Z',
    datacontenttype: 'application/json',
    citation: { url: 'https://example.org/x', tier: 'primary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' },
  };
  const stance = (id: string, value: number, validtime: string, knowntime: string) =>
    ({
      ...base,
      id,
      type: 'StanceCoded',
      subject: 'stances-eu',
      validtime,
      knowntime,
      data: { jurisdiction: 'EU', codebookVersion: '1.0.0', dimension: 'human_oversight', value, provisions: [], evidence: 'e', coder: 't', confidence: 1 },
    }) as unknown as AnyEnvelope;
  const events = toStored([
    stance('s1', 1, '2020-01-01', '2020-01-01'),
    stance('s2', 3, '2022-01-01', '2021-06-01'),
    { ...base, id: 'c1', type: 'RecordCorrected', subject: 'stances-eu', validtime: '2023-01-01', knowntime: '2023-01-01', data: { targetEventId: 's2', changes: { value: 2, validtime: '2022-06-01' }, reason: 'misread' } } as unknown as AnyEnvelope,
    { ...base, id: 'r1', type: 'RecordRetracted', subject: 'stances-eu', validtime: '2024-01-01', knowntime: '2024-01-01', data: { targetEventId: 's2', reason: 'wrong source' } } as unknown as AnyEnvelope,
  ]);
  let m: TestModels;
  beforeAll(async () => {
    m = await openSqliteModels({ clock: () => NOW });
    // Applied in reverse (one partition each): the read models do not depend on arrival order.
    for (const [i, e] of [...events].reverse().entries()) await m.projector.applyBatch(String(i), [e], ['0']);
  });
  afterAll(() => m.close());

  const at = async (asOf: string, knownAt?: string) =>
    (await m.queries.stances({ asOf, jurisdictions: ['EU'], dimensions: ['human_oversight'], ...(knownAt ? { knownAt } : {}) })).stances[0];

  it('answers each (valid, known) point from the history, never editing it', async () => {
    expect((await at('2022-03-01', '2022-01-01'))?.value).toBe(3);
    expect((await at('2022-03-01', '2023-06-01'))?.value).toBe(1); // corrected: valid only from 2022-06-01
    expect((await at('2022-07-01', '2023-06-01'))?.value).toBe(2);
    expect((await at('2022-07-01', '2023-06-01'))?.validTo).toBeNull();
    expect((await at('2022-07-01', '2024-06-01'))?.value).toBe(1); // retracted
    expect((await at('2022-07-01'))?.value).toBe(1);
    expect((await at('2021-01-01', '2022-01-01'))?.validTo).toBe('2022-01-01T00:00:00.000Z');
    expect(await at('2019-01-01')).toBeUndefined();
  });
});

describe('bitemporal read models on a generated history with corrections and retractions', () => {
  it('match the domain functions', async () => {
    const events = toStored(generateHistory({ seed: 7, events: 2500, stanceShare: 0.08, correctionShare: 0.03, retractionShare: 0.02 }));
    expect(events.filter((e) => e.type === 'RecordCorrected').length).toBeGreaterThan(30);
    const m = await openSqliteModels({ clock: () => NOW });
    try {
      await applyAll(m.projector, interleave(events, { seed: 3, maxBatch: 120 }));
      expect(await m.projector.deadLetters()).toEqual([]);
      const ids = [...new Set(events.filter((e) => e.type === 'ApplicationPostponed').map((e) => (e.data as { instrumentId: string }).instrumentId))].slice(0, 25);
      await expectDomainParity(
        m,
        events,
        [
          ['2015-06-01', '2016-01-01'],
          ['2020-01-01', undefined],
          ['2026-11-29', '2023-05-05'],
          ['2030-01-01', '2026-01-01'],
        ],
        ids,
      );
    } finally {
      await m.close();
    }
  }, 120_000);
});
