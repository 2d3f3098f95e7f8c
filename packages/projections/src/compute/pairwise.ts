import { type Codebook, dimensionDistance, type IndexOptions, type PairIndex, pairwiseIndex, type Profile } from '@regstream/domain';

interface Term {
  readonly distance: number;
  readonly uncertainty: number;
}

/**
 * The domain's `pairwiseIndex` (the same code, so bit-identical results; a property test checks it),
 * with the per-dimension term memoised by the identities of the two codings. Used by the divergence sweep, which evaluates the same pairs of
 * codings over and over.
 */
export class PairwiseMemo {
  private readonly terms = new Map<number, Term>();
  private readonly positions: ReadonlyMap<string, number>;

  constructor(private readonly cb: Codebook) {
    this.positions = new Map(cb.dimensions.map((d, i) => [d.id, i]));
  }

  /** `ids` identify each side's coding per dimension (same value, same id). */
  index(a: Profile, aIds: ReadonlyMap<string, number>, b: Profile, bIds: ReadonlyMap<string, number>, opts: IndexOptions = {}): PairIndex {
    return pairwiseIndex(this.cb, a, b, opts, (dim, x, y) => {
      // dimension × coding × coding packed in a safe integer (ids are below 2^21: see resetInternsIfLarge).
      const key = ((this.positions.get(dim.id) ?? 0) * 2 ** 21 + (aIds.get(dim.id) ?? 0)) * 2 ** 21 + (bIds.get(dim.id) ?? 0);
      let term = this.terms.get(key);
      if (!term) {
        term = { distance: dimensionDistance(dim, x.value, y.value), uncertainty: 1 - (x.confidence ?? 1) * (y.confidence ?? 1) };
        if (this.terms.size > 200_000) this.terms.clear();
        this.terms.set(key, term);
      }
      return term;
    });
  }
}
