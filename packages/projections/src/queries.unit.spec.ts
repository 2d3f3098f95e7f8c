import { loadCorpus } from '@regstream/corpus';
import { CODEBOOK_V1 } from '@regstream/domain';
import { applyAll, generateHistory, interleave, openSqliteModels, type TestModels, toStored } from './testing';

const NOW = new Date('2026-11-29T00:00:00Z');
const DIMS = CODEBOOK_V1.dimensions.map((d) => d.id);

describe('queries', () => {
  let m: TestModels;
  beforeAll(async () => {
    m = await openSqliteModels({ clock: () => NOW });
    const events = toStored([...loadCorpus().events, ...generateHistory({ seed: 17, events: 1500, stanceShare: 0.1, correctionShare: 0.03, retractionShare: 0.02 })]);
    await applyAll(m.projector, interleave(events, { seed: 1, maxBatch: 200 }));
  });
  afterAll(() => m.close());

  const points: [string, string | undefined][] = [
    ['2019-06-01', undefined],
    ['2022-03-15', '2021-01-01'],
    ['2025-07-26', undefined],
    ['2026-11-29', '2024-05-05'],
  ];

  it('divergence from stored change points equals the index computed from the stance matrix', async () => {
    for (const [asOf, knownAt] of points) {
      const q = { asOf, ...(knownAt ? { knownAt } : {}) };
      for (const jurisdictions of [undefined, ['EU', 'US', 'CN', 'INTL-OECD', 'IN']]) {
        const stored = await m.queries.divergence({ ...q, ...(jurisdictions ? { jurisdictions } : {}) });
        // Listing every dimension explicitly takes the computing path: same numbers.
        const computed = await m.queries.divergence({ ...q, ...(jurisdictions ? { jurisdictions } : {}), dimensions: [...DIMS] });
        // Only the stored jurisdictions' pairs are change points; a set with another (IN) is computed.
        expect(stored.source).toBe(jurisdictions?.includes('IN') ? 'computed' : 'change-points');
        expect(computed.source).toBe('computed');
        expect(stored.pairs).toEqual(computed.pairs.map((p) => ({ ...p })));
        expect(stored.global.value).toBeCloseTo(computed.global.value ?? NaN, 12);
        expect(stored.global.dispersion).toBeCloseTo(computed.global.dispersion ?? NaN, 12);
        expect(stored.reference).toEqual(computed.reference);
      }
      for (const d of ['high_risk_definition', 'value_orientation']) {
        const stored = await m.queries.divergence({ ...q, dimensions: [d] });
        const computed = await m.queries.divergence({ ...q, dimensions: [d, d], variant: 'all', weights: 'codebook' });
        expect(stored.pairs.map((p) => p.value)).toEqual(computed.pairs.map((p) => p.value));
      }
    }
  });

  it('series points are the index at each change point, as known at knownAt', async () => {
    for (const knownAt of [undefined, '2023-01-01']) {
      const series = await m.queries.series({ ...(knownAt ? { knownAt } : {}) });
      expect(series.points.length).toBeGreaterThan(2);
      for (const p of series.points.slice(-6)) {
        const d = await m.queries.divergence({ asOf: p.validFrom, ...(knownAt ? { knownAt } : {}) });
        expect(p.value).toBe(d.global.value);
        expect(p.dispersion).toBe(d.global.dispersion);
      }
      const pair = await m.queries.series({ a: 'US', b: 'EU', dimension: 'legal_bindingness', ...(knownAt ? { knownAt } : {}) });
      for (const p of pair.points) {
        const d = await m.queries.divergence({ asOf: p.validFrom, jurisdictions: ['EU', 'US'], dimensions: ['legal_bindingness'], ...(knownAt ? { knownAt } : {}) });
        expect(p.value).toBe(d.pairs[0]?.value);
      }
      // A set other than the default, or one dimension: merged from the pair series.
      const custom = await m.queries.series({ jurisdictions: ['EU', 'US', 'CN'], dimension: 'human_oversight', ...(knownAt ? { knownAt } : {}) });
      for (const p of custom.points.slice(-5)) {
        const d = await m.queries.divergence({ asOf: p.validFrom, jurisdictions: ['EU', 'US', 'CN'], dimensions: ['human_oversight'], ...(knownAt ? { knownAt } : {}) });
        expect(p.value).toBe(d.global.value);
      }
    }
  });

  it('a stored pair series equals the same series computed from the stance matrix', async () => {
    for (const knownAt of [undefined, '2022-06-30']) {
      for (const [a, b] of [['EU', 'US'], ['CN', 'INTL-OECD']] as const) {
        for (const dimension of [undefined, 'human_oversight']) {
          const q = { a, b, ...(dimension ? { dimension } : {}), ...(knownAt ? { knownAt } : {}) };
          const stored = await m.queries.series(q);
          const computed = await m.queries.series({ ...q, recompute: true });
          expect(stored.points.length).toBeGreaterThan(0);
          expect(computed.points.map((p) => [p.validFrom, p.value])).toEqual(stored.points.map((p) => [p.validFrom, p.value]));
        }
      }
    }
  });

  it('a pair outside the stored jurisdictions is computed at query time and agrees with divergence', async () => {
    const jurisdictions = [...new Set((await m.queries.stances({})).stances.map((s) => s.jurisdiction))].filter((j) => !['CN', 'EU', 'GB', 'JP', 'KR', 'US', 'INTL-OECD'].includes(j));
    expect(jurisdictions.length).toBeGreaterThan(0);
    const other = jurisdictions[0] as string;
    for (const knownAt of [undefined, '2023-01-01']) {
      const series = await m.queries.series({ a: other, b: 'EU', ...(knownAt ? { knownAt } : {}) });
      expect(series.points.length).toBeGreaterThan(0);
      for (const p of series.points) {
        const d = await m.queries.divergence({ asOf: p.validFrom, jurisdictions: ['EU', other], ...(knownAt ? { knownAt } : {}) });
        expect(d.source).toBe('computed');
        expect(p.value).toBe(d.pairs[0]?.value);
      }
      const window = await m.queries.series({ a: other, b: 'EU', from: series.points[series.points.length - 1]?.validFrom, ...(knownAt ? { knownAt } : {}) });
      expect(window.points).toEqual(series.points.slice(-1));
    }
  });

  it('a series window starts with the point in force at `from`', async () => {
    const all = await m.queries.series({});
    const from = all.points[3]?.validFrom as string;
    const mid = new Date(Date.parse(from) + 86_400_000).toISOString();
    const window = await m.queries.series({ from: mid });
    expect(window.points[0]).toEqual(all.points[3]);
    expect(window.points.slice(1)).toEqual(all.points.slice(4));
  });

  it('filters and pages', async () => {
    const eu = await m.queries.timeline({ jurisdictions: ['EU'], types: ['ProvisionBecameApplicable'], from: '2026-01-01' });
    expect(eu.lanes.map((l) => l.jurisdiction)).toEqual(['EU']);
    for (const ms of eu.lanes[0]?.milestones ?? []) {
      expect(ms.type).toBe('ProvisionBecameApplicable');
      expect(ms.validTime >= '2026-01-01').toBe(true);
    }
    const small = await m.queries.timeline({ limit: 5 });
    expect(small.truncated).toBe(true);
    expect(small.lanes.flatMap((l) => l.milestones)).toHaveLength(5);
    const first = await m.queries.instruments({ limit: 10 });
    const last = first.instruments[9]?.id ?? '';
    const next = await m.queries.instruments({ limit: 10, after: last });
    expect((next.instruments[0]?.id ?? '') > last).toBe(true);
    const stances = await m.queries.stances({ jurisdictions: ['EU', 'XX'], dimensions: ['human_oversight'] });
    expect(stances.coverage).toEqual({ human_oversight: 0.5 });
  });
});
