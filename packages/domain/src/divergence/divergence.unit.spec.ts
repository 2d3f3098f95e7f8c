import fc from 'fast-check';
import { CODEBOOK_V1 } from '../codebook/v1';
import type { CodebookDimension, StanceValue } from '../codebook/types';
import {
  aggregateIndex,
  complianceGap,
  type CodedValue,
  dimensionDistance,
  distanceToReference,
  pairMatrix,
  pairwiseIndex,
  type Profile,
  sensitivity,
} from './index';

const dims = CODEBOOK_V1.dimensions;

function arbValue(dim: CodebookDimension): fc.Arbitrary<StanceValue> {
  switch (dim.scale) {
    case 'ordinal':
      return fc.constantFrom(...dim.levels.map((l) => l.rank ?? 0));
    case 'nominal':
      return fc.constantFrom(...dim.levels.map((l) => l.id));
    case 'set':
      return fc.subarray(dim.levels.map((l) => l.id));
  }
}

/** A profile with a random subset of dimensions coded. */
const arbProfile: fc.Arbitrary<Profile> = fc
  .tuple(
    ...dims.map((d) =>
      fc.option(
        fc.record({ value: arbValue(d), confidence: fc.double({ min: 0, max: 1, noNaN: true }), basis: fc.constantFrom('binding' as const, 'voluntary' as const) }),
        { nil: undefined },
      ),
    ),
  )
  .map((values) => {
    const m = new Map<string, CodedValue>();
    values.forEach((v, i) => {
      if (v) m.set((dims[i] as CodebookDimension).id, v);
    });
    return m;
  });

const full = (entries: Record<string, StanceValue>): Profile =>
  new Map(Object.entries(entries).map(([k, v]) => [k, { value: v, confidence: 1, basis: 'binding' as const }]));

describe('per-dimension distance', () => {
  const byId = (id: string) => dims.find((d) => d.id === id) as CodebookDimension;
  it('normalises ordinal differences by the scale range', () => {
    expect(dimensionDistance(byId('legal_bindingness'), 0, 3)).toBe(1);
    expect(dimensionDistance(byId('legal_bindingness'), 1, 3)).toBeCloseTo(2 / 3);
    expect(dimensionDistance(byId('data_cross_border'), 0, 1)).toBe(0.5);
  });
  it('counts a nominal mismatch as 1', () => {
    expect(dimensionDistance(byId('value_orientation'), 'risk_averse', 'orderly_innovation')).toBe(1);
    expect(dimensionDistance(byId('value_orientation'), 'risk_averse', 'risk_averse')).toBe(0);
  });
  it('uses 1 − Jaccard for sets, and two empty sets agree', () => {
    const d = byId('high_risk_definition');
    expect(dimensionDistance(d, ['education', 'employment'], ['employment', 'biometrics'])).toBeCloseTo(1 - 1 / 3);
    expect(dimensionDistance(d, [], [])).toBe(0);
    expect(dimensionDistance(d, [], ['education'])).toBe(1);
  });
});

describe('pairwise index properties', () => {
  it('is symmetric', () => {
    fc.assert(
      fc.property(arbProfile, arbProfile, (a, b) => {
        expect(pairwiseIndex(CODEBOOK_V1, a, b).value).toEqual(pairwiseIndex(CODEBOOK_V1, b, a).value);
      }),
    );
  });
  it('is zero against itself wherever anything is coded', () => {
    fc.assert(
      fc.property(arbProfile, (a) => {
        const r = pairwiseIndex(CODEBOOK_V1, a, a);
        if (a.size === 0) expect(r.value).toBeNull();
        else expect(r.value).toBe(0);
      }),
    );
  });
  it('stays within [0, 1], band included', () => {
    fc.assert(
      fc.property(arbProfile, arbProfile, fc.constantFrom('codebook' as const, 'equal' as const), (a, b, weights) => {
        const r = pairwiseIndex(CODEBOOK_V1, a, b, { weights });
        if (r.value === null) return;
        expect(r.value).toBeGreaterThanOrEqual(0);
        expect(r.value).toBeLessThanOrEqual(1);
        const [lo, hi] = r.band ?? [NaN, NaN];
        expect(lo).toBeLessThanOrEqual(r.value + 1e-12);
        expect(hi).toBeGreaterThanOrEqual(r.value - 1e-12);
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
      }),
    );
  });
  it('drops a dimension missing on either side from both, and never counts it as agreement', () => {
    fc.assert(
      fc.property(arbProfile, arbProfile, (a, b) => {
        const r = pairwiseIndex(CODEBOOK_V1, a, b);
        for (const d of r.coverage.covered) expect(a.has(d) && b.has(d)).toBe(true);
        for (const d of r.coverage.missing) expect(a.has(d) && b.has(d)).toBe(false);
        expect(r.coverage.covered.length + r.coverage.missing.length).toBe(dims.length);
      }),
    );
    // Coding a dimension on one side only must not move the index towards agreement.
    const a = full({ legal_bindingness: 3 });
    const b = full({ legal_bindingness: 0 });
    const a2 = full({ legal_bindingness: 3, human_oversight: 3 });
    expect(pairwiseIndex(CODEBOOK_V1, a2, b).value).toBe(pairwiseIndex(CODEBOOK_V1, a, b).value);
    expect(pairwiseIndex(CODEBOOK_V1, a2, b).coverage.weightShare).toBeLessThan(1);
  });
  it('aggregate is invariant under permutation of jurisdictions', () => {
    fc.assert(
      fc.property(fc.array(arbProfile, { minLength: 2, maxLength: 6 }), fc.integer(), (profiles, seed) => {
        const names = profiles.map((_, i) => `J${i}`);
        const map = new Map(names.map((n, i) => [n, profiles[i] as Profile]));
        const shuffled = [...names].sort((x, y) => ((x.charCodeAt(1) * seed) % 7) - ((y.charCodeAt(1) * seed) % 7));
        const g1 = aggregateIndex(pairMatrix(CODEBOOK_V1, map, names));
        const g2 = aggregateIndex(pairMatrix(CODEBOOK_V1, map, shuffled));
        expect(g2.value).toEqual(g1.value);
        expect(g2.dispersion).toEqual(g1.dispersion);
      }),
    );
  });
});

describe('worked example', () => {
  const eu = full({ legal_bindingness: 3, transparency_explainability: 3, value_orientation: 'risk_averse', high_risk_definition: ['education', 'employment'] });
  const us = full({ legal_bindingness: 1, transparency_explainability: 1, value_orientation: 'national_security_first', high_risk_definition: [] });
  it('is the weighted mean of distances over covered dimensions', () => {
    const r = pairwiseIndex(CODEBOOK_V1, eu, us);
    // weights 1.5, 1, 0.75, 1.5; distances 2/3, 2/3, 1, 1
    const expected = (1.5 * (2 / 3) + 1 * (2 / 3) + 0.75 * 1 + 1.5 * 1) / (1.5 + 1 + 0.75 + 1.5);
    expect(r.value).toBeCloseTo(expected, 12);
    expect(r.codebookVersion).toBe('1.0.0');
    expect(r.methodologyVersion).toBe('divergence-1');
    const eq = sensitivity(CODEBOOK_V1, eu, us);
    expect(eq.equalWeights.value).toBeCloseTo((2 / 3 + 2 / 3 + 1 + 1) / 4, 12);
    expect(eq.weightEffect).toBeCloseTo(Math.abs(expected - (2 / 3 + 2 / 3 + 1 + 1) / 4), 12);
  });
  it('gives the mean of pairs with its dispersion', () => {
    const cn = full({ legal_bindingness: 2, transparency_explainability: 2, value_orientation: 'orderly_innovation', high_risk_definition: ['generative_ai_services'] });
    const pairs = pairMatrix(CODEBOOK_V1, new Map([['EU', eu], ['US', us], ['CN', cn]]), ['EU', 'US', 'CN']);
    expect(pairs.map((p) => `${p.a}-${p.b}`)).toEqual(['CN-EU', 'CN-US', 'EU-US']);
    const g = aggregateIndex(pairs);
    const vals = pairs.map((p) => p.index.value as number);
    const mean = vals.reduce((s, v) => s + v, 0) / 3;
    expect(g.value).toBeCloseTo(mean, 12);
    expect(g.dispersion).toBeCloseTo(Math.sqrt(vals.reduce((s, v) => s + (v - mean) ** 2, 0) / 3), 12);
  });
  it('computes the directional compliance gap', () => {
    const gap = complianceGap(CODEBOOK_V1, 'US', us, 'EU', eu);
    expect(gap.items.map((i) => i.dimension).sort()).toEqual(['high_risk_definition', 'legal_bindingness', 'transparency_explainability']);
    expect(gap.items.find((i) => i.dimension === 'high_risk_definition')?.additionalAreas).toEqual(['education', 'employment']);
    expect(gap.differentInKind).toEqual(['value_orientation']);
    // Nothing more is owed going the other way on ordinal dimensions.
    const back = complianceGap(CODEBOOK_V1, 'EU', eu, 'US', us);
    expect(back.items).toEqual([]);
    expect(back.score).toBe(0);
  });
  it('filters to binding codings in the de jure variant', () => {
    const soft = new Map<string, CodedValue>([['legal_bindingness', { value: 1, basis: 'voluntary' }]]);
    expect(pairwiseIndex(CODEBOOK_V1, eu, soft, { variant: 'de_jure' }).value).toBeNull();
    expect(pairwiseIndex(CODEBOOK_V1, eu, soft, { variant: 'all' }).value).toBeCloseTo(2 / 3);
  });
  it('measures distance to the reference regime', () => {
    const oecd = full({ legal_bindingness: 1, value_orientation: 'human_centric' });
    const out = distanceToReference(CODEBOOK_V1, new Map([['EU', eu], ['INTL-OECD', oecd]]), ['EU', 'INTL-OECD']);
    expect(out).toHaveLength(1);
    expect(out[0]?.reference).toBe('INTL-OECD');
    expect(out[0]?.index.coverage.covered).toEqual(['legal_bindingness', 'value_orientation']);
  });
});
