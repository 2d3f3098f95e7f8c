import { type Codebook, type CodedValue, dimensionDistance, type IndexOptions, type PairIndex, type Profile } from '@regstream/domain';

interface Term {
  readonly distance: number;
  readonly uncertainty: number;
}

/**
 * The domain's `pairwiseIndex`, operation for operation (same loop, same sums in the same order, so
 * bit-identical results; a property test checks it), with the per-dimension distance memoised by the
 * identities of the two codings. Used by the divergence sweep, which evaluates the same pairs of
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
    const weights = opts.weights ?? 'codebook';
    const dims = opts.dimensions ? this.cb.dimensions.filter((d) => opts.dimensions?.includes(d.id)) : this.cb.dimensions;
    const per: { dimension: string; distance: number; weight: number; uncertainty: number }[] = [];
    const missing: string[] = [];
    let totalWeight = 0;
    for (const dim of dims) {
      const w = weights === 'equal' ? 1 : dim.weight;
      totalWeight += w;
      const x = a.get(dim.id);
      const y = b.get(dim.id);
      if (!usable(x, opts.variant) || !usable(y, opts.variant)) {
        missing.push(dim.id);
        continue;
      }
      // dimension × coding × coding packed in a safe integer (ids are below 2^21: see resetInternsIfLarge).
      const key = ((this.positions.get(dim.id) ?? 0) * 2 ** 21 + (aIds.get(dim.id) ?? 0)) * 2 ** 21 + (bIds.get(dim.id) ?? 0);
      let term = this.terms.get(key);
      if (!term) {
        term = { distance: dimensionDistance(dim, x.value, y.value), uncertainty: 1 - (x.confidence ?? 1) * (y.confidence ?? 1) };
        if (this.terms.size > 200_000) this.terms.clear();
        this.terms.set(key, term);
      }
      per.push({ dimension: dim.id, distance: term.distance, weight: w, uncertainty: term.uncertainty });
    }
    const coveredWeight = per.reduce((s, p) => s + p.weight, 0);
    const value = coveredWeight === 0 ? null : per.reduce((s, p) => s + p.weight * p.distance, 0) / coveredWeight;
    const band: PairIndex['band'] =
      coveredWeight === 0
        ? null
        : [
            per.reduce((s, p) => s + p.weight * Math.max(0, p.distance - p.uncertainty), 0) / coveredWeight,
            per.reduce((s, p) => s + p.weight * Math.min(1, p.distance + p.uncertainty), 0) / coveredWeight,
          ];
    return {
      value,
      band,
      coverage: { covered: per.map((p) => p.dimension), missing, weightShare: totalWeight === 0 ? 0 : coveredWeight / totalWeight },
      perDimension: per,
      codebookVersion: this.cb.version,
      methodologyVersion: this.cb.methodologyVersion,
      weights,
    };
  }
}

function usable(c: CodedValue | undefined, variant: IndexOptions['variant']): c is CodedValue {
  return c !== undefined && (variant !== 'de_jure' || c.basis === 'binding');
}
