import { CODEBOOK_V1, type CodebookDimension, type CodedValue, ordinalRange, pairwiseIndex } from '@regstream/domain';
import fc from 'fast-check';
import { PairwiseMemo } from './pairwise';

const value = (d: CodebookDimension): fc.Arbitrary<CodedValue['value']> => {
  switch (d.scale) {
    case 'ordinal': {
      const { min, max } = ordinalRange(d);
      return fc.integer({ min, max });
    }
    case 'nominal':
      return fc.constantFrom(...d.levels.map((l) => l.id));
    case 'set':
      return fc.subarray(d.levels.map((l) => l.id));
  }
};
const coded = (d: CodebookDimension) =>
  fc.option(fc.record({ value: value(d), confidence: fc.double({ min: 0, max: 1, noNaN: true }), basis: fc.constantFrom<'binding' | 'voluntary' | 'political'>('binding', 'voluntary', 'political') }), { nil: undefined });
const profile = fc.tuple(...CODEBOOK_V1.dimensions.map((d) => coded(d))).map((vs) => new Map(CODEBOOK_V1.dimensions.flatMap((d, i) => (vs[i] ? [[d.id, vs[i]] as const] : []))));

describe('PairwiseMemo', () => {
  it('is bit-identical to the domain pairwiseIndex for any profiles and options', () => {
    const memo = new PairwiseMemo(CODEBOOK_V1);
    let id = 0;
    fc.assert(
      fc.property(
        profile,
        profile,
        fc.constantFrom<'codebook' | 'equal'>('codebook', 'equal'),
        fc.constantFrom<'all' | 'de_jure'>('all', 'de_jure'),
        fc.option(fc.subarray(CODEBOOK_V1.dimensions.map((d) => d.id), { minLength: 1 }), { nil: undefined }),
        (a, b, weights, variant, dimensions) => {
          // Fresh ids each time: a memoised term is only ever reused for the same two codings.
          const ids = (p: Map<string, unknown>) => new Map([...p.keys()].map((k) => [k, ++id]));
          const opts = { weights, variant, ...(dimensions ? { dimensions } : {}) };
          const ia = ids(a);
          const ib = ids(b);
          expect(memo.index(a, ia, b, ib, opts)).toEqual(pairwiseIndex(CODEBOOK_V1, a, b, opts));
          // The same codings again: answered from the memo, still identical.
          expect(memo.index(a, ia, b, ib, opts)).toEqual(pairwiseIndex(CODEBOOK_V1, a, b, opts));
        },
      ),
      { numRuns: 2000 },
    );
  });
});
