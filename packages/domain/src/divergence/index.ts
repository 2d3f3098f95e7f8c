import { type Codebook, type CodebookDimension, ordinalRange, type StanceValue } from '../codebook/types';

/**
 * Divergence maths. Pure functions over coded stances; every result says which codebook and
 * methodology produced it and how much of the codebook it covers. A dimension not coded on both
 * sides is dropped from both and never counts as agreement.
 */

export interface CodedValue {
  readonly value: StanceValue;
  /** Coder confidence in [0, 1]. */
  readonly confidence?: number;
  /** Legal force of the strongest instrument the coding rests on; used by the de jure variant. */
  readonly basis?: 'binding' | 'voluntary' | 'political';
}

/** dimension id → coded value, for one jurisdiction. */
export type Profile = ReadonlyMap<string, CodedValue>;

export type WeightScheme = 'codebook' | 'equal';

export interface IndexOptions {
  readonly weights?: WeightScheme;
  /** Restrict to these dimensions. */
  readonly dimensions?: readonly string[];
  /** `de_jure` keeps only codings resting on binding instruments. */
  readonly variant?: 'all' | 'de_jure';
}

export function dimensionDistance(dim: CodebookDimension, a: StanceValue, b: StanceValue): number {
  switch (dim.scale) {
    case 'ordinal': {
      const { min, max } = ordinalRange(dim);
      if (typeof a !== 'number' || typeof b !== 'number') throw new TypeError(`${dim.id} needs ordinal ranks`);
      return max === min ? 0 : Math.abs(a - b) / (max - min);
    }
    case 'nominal':
      if (typeof a !== 'string' || typeof b !== 'string') throw new TypeError(`${dim.id} needs nominal level ids`);
      return a === b ? 0 : 1;
    case 'set': {
      if (!Array.isArray(a) || !Array.isArray(b)) throw new TypeError(`${dim.id} needs sets`);
      const A = new Set<string>(a as readonly string[]);
      const B = new Set<string>(b as readonly string[]);
      const union = new Set([...A, ...B]);
      // Two empty sets mean both have no legal definition: the same position.
      if (union.size === 0) return 0;
      let inter = 0;
      for (const x of A) if (B.has(x)) inter += 1;
      return 1 - inter / union.size;
    }
  }
}

export interface DimensionContribution {
  readonly dimension: string;
  readonly distance: number;
  readonly weight: number;
  /** Half-width of the uncertainty from coder confidence. */
  readonly uncertainty: number;
}

export interface PairIndex {
  /** Weighted mean distance over covered dimensions, or null when nothing is covered. */
  readonly value: number | null;
  /** Band from coder confidence: [lower, upper]. */
  readonly band: readonly [number, number] | null;
  readonly coverage: {
    readonly covered: readonly string[];
    readonly missing: readonly string[];
    /** Covered weight / total weight of the dimensions asked for. */
    readonly weightShare: number;
  };
  readonly perDimension: readonly DimensionContribution[];
  readonly codebookVersion: string;
  readonly methodologyVersion: string;
  readonly weights: WeightScheme;
}

function usable(c: CodedValue | undefined, variant: IndexOptions['variant']): c is CodedValue {
  return c !== undefined && (variant !== 'de_jure' || c.basis === 'binding');
}

function selectedDimensions(codebook: Codebook, opts: IndexOptions): CodebookDimension[] {
  return opts.dimensions ? codebook.dimensions.filter((d) => opts.dimensions?.includes(d.id)) : codebook.dimensions;
}

/** Distance and confidence uncertainty of one compared dimension. */
export type TermFn = (dim: CodebookDimension, x: CodedValue, y: CodedValue) => { readonly distance: number; readonly uncertainty: number };

const directTerm: TermFn = (dim, x, y) => ({ distance: dimensionDistance(dim, x.value, y.value), uncertainty: 1 - (x.confidence ?? 1) * (y.confidence ?? 1) });

/**
 * STRI-style heterogeneity between two jurisdictions: a weighted mean of per-dimension distances.
 * `term` lets a caller memoise per-dimension terms (the projections' divergence sweep) with the same sums.
 */
export function pairwiseIndex(codebook: Codebook, a: Profile, b: Profile, opts: IndexOptions = {}, term: TermFn = directTerm): PairIndex {
  const weights = opts.weights ?? 'codebook';
  const dims = selectedDimensions(codebook, opts);
  const per: DimensionContribution[] = [];
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
    const { distance, uncertainty } = term(dim, x, y);
    per.push({ dimension: dim.id, distance, weight: w, uncertainty });
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
    coverage: {
      covered: per.map((p) => p.dimension),
      missing,
      weightShare: totalWeight === 0 ? 0 : coveredWeight / totalWeight,
    },
    perDimension: per,
    codebookVersion: codebook.version,
    methodologyVersion: codebook.methodologyVersion,
    weights,
  };
}

export interface AggregateIndex {
  readonly value: number | null;
  /** Population standard deviation of the pairwise indices. */
  readonly dispersion: number | null;
  readonly pairs: number;
  /** Pairs with no dimension in common are left out and counted here. */
  readonly pairsWithoutOverlap: number;
  readonly meanCoverage: number;
}

export interface PairEntry {
  readonly a: string;
  readonly b: string;
  readonly index: PairIndex;
}

/** Every unordered pair of the given jurisdictions, in a stable order. */
export function pairMatrix(
  codebook: Codebook,
  profiles: ReadonlyMap<string, Profile>,
  jurisdictions: readonly string[],
  opts: IndexOptions = {},
): PairEntry[] {
  const sorted = [...new Set(jurisdictions)].sort();
  const out: PairEntry[] = [];
  for (let i = 0; i < sorted.length; i++) {
    for (let j = i + 1; j < sorted.length; j++) {
      const a = sorted[i] as string;
      const b = sorted[j] as string;
      out.push({ a, b, index: pairwiseIndex(codebook, profiles.get(a) ?? new Map(), profiles.get(b) ?? new Map(), opts) });
    }
  }
  return out;
}

/** The global index over a set of jurisdictions: mean of pairwise indices, with their dispersion. */
export function aggregateIndex(pairs: readonly PairEntry[]): AggregateIndex {
  const values = pairs.map((p) => p.index.value).filter((v): v is number => v !== null);
  const meanCoverage = pairs.length === 0 ? 0 : pairs.reduce((s, p) => s + p.index.coverage.weightShare, 0) / pairs.length;
  if (values.length === 0) return { value: null, dispersion: null, pairs: 0, pairsWithoutOverlap: pairs.length, meanCoverage };
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length;
  return {
    value: mean,
    dispersion: Math.sqrt(variance),
    pairs: values.length,
    pairsWithoutOverlap: pairs.length - values.length,
    meanCoverage,
  };
}

export interface GapItem {
  readonly dimension: string;
  readonly from: StanceValue;
  readonly to: StanceValue;
  /** Normalised extra demand in [0, 1]. */
  readonly owed: number;
  /** For set dimensions: the areas B regulates that A does not. */
  readonly additionalAreas?: readonly string[];
}

export interface ComplianceGap {
  readonly from: string;
  readonly to: string;
  readonly items: readonly GapItem[];
  /** Weighted mean of what is owed over comparable covered dimensions. */
  readonly score: number | null;
  /** Covered dimensions where the regimes differ in kind (nominal): no direction, listed apart. */
  readonly differentInKind: readonly string[];
  readonly missing: readonly string[];
  readonly codebookVersion: string;
}

/** What a deployer already compliant in A still owes in B: the dimensions where B demands more. */
export function complianceGap(codebook: Codebook, fromId: string, a: Profile, toId: string, b: Profile): ComplianceGap {
  const items: GapItem[] = [];
  const differentInKind: string[] = [];
  const missing: string[] = [];
  let weight = 0;
  let owedSum = 0;
  for (const dim of codebook.dimensions) {
    const x = a.get(dim.id);
    const y = b.get(dim.id);
    if (!x || !y) {
      missing.push(dim.id);
      continue;
    }
    if (dim.demandDirection === 'not_comparable') {
      if (dimensionDistance(dim, x.value, y.value) > 0) differentInKind.push(dim.id);
      continue;
    }
    weight += dim.weight;
    let owed = 0;
    let additionalAreas: string[] | undefined;
    if (dim.scale === 'ordinal' && typeof x.value === 'number' && typeof y.value === 'number') {
      const { min, max } = ordinalRange(dim);
      owed = max === min ? 0 : Math.max(0, y.value - x.value) / (max - min);
    } else if (dim.scale === 'set' && Array.isArray(x.value) && Array.isArray(y.value)) {
      const A = new Set<string>(x.value as readonly string[]);
      const B = y.value as readonly string[];
      additionalAreas = B.filter((v) => !A.has(v));
      owed = B.length === 0 ? 0 : additionalAreas.length / B.length;
    }
    owedSum += dim.weight * owed;
    if (owed > 0) items.push({ dimension: dim.id, from: x.value, to: y.value, owed, ...(additionalAreas ? { additionalAreas } : {}) });
  }
  return {
    from: fromId,
    to: toId,
    items,
    score: weight === 0 ? null : owedSum / weight,
    differentInKind,
    missing,
    codebookVersion: codebook.version,
  };
}

export interface Sensitivity {
  readonly codebookWeights: PairIndex;
  readonly equalWeights: PairIndex;
  /** |codebook − equal|, or null when either is undefined. */
  readonly weightEffect: number | null;
}

export function sensitivity(codebook: Codebook, a: Profile, b: Profile, opts: Omit<IndexOptions, 'weights'> = {}): Sensitivity {
  const c = pairwiseIndex(codebook, a, b, { ...opts, weights: 'codebook' });
  const e = pairwiseIndex(codebook, a, b, { ...opts, weights: 'equal' });
  return {
    codebookWeights: c,
    equalWeights: e,
    weightEffect: c.value === null || e.value === null ? null : Math.abs(c.value - e.value),
  };
}

/** Each jurisdiction's distance to a reference regime (by default the codebook's, the OECD AI Principles). */
export function distanceToReference(
  codebook: Codebook,
  profiles: ReadonlyMap<string, Profile>,
  jurisdictions: readonly string[],
  reference: string = codebook.referenceRegime,
  opts: IndexOptions = {},
): { jurisdiction: string; reference: string; index: PairIndex }[] {
  const ref = profiles.get(reference) ?? new Map<string, CodedValue>();
  return jurisdictions
    .filter((j) => j !== reference)
    .map((j) => ({ jurisdiction: j, reference, index: pairwiseIndex(codebook, profiles.get(j) ?? new Map(), ref, opts) }));
}
