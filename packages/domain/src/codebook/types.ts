import { z } from 'zod';

export const ScaleType = z.enum(['ordinal', 'nominal', 'set']);
export type ScaleType = z.infer<typeof ScaleType>;

export const CodebookLevel = z.object({
  id: z.string().min(1),
  /** Ordinal rank (ordinal scales only). */
  rank: z.number().int().optional(),
  label: z.string().min(1),
  definition: z.string().min(1),
});
export type CodebookLevel = z.infer<typeof CodebookLevel>;

export const CodebookDimension = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_]*$/),
  label: z.string().min(1),
  scale: ScaleType,
  weight: z.number().positive(),
  /** Whether a higher level (ordinal) or a superset (set) demands more of a deployer; drives compliance gaps. */
  demandDirection: z.enum(['higher_demands_more', 'not_comparable']),
  levels: z.array(CodebookLevel).min(2),
  seedPaperBasis: z.string().min(1),
});
export type CodebookDimension = z.infer<typeof CodebookDimension>;

export const Codebook = z.object({
  version: z.string().regex(/^\d+\.\d+\.\d+$/),
  methodologyVersion: z.string().min(1),
  publishedOn: z.string(),
  referenceRegime: z.string().min(1),
  dimensions: z.array(CodebookDimension).min(1),
});
export type Codebook = z.infer<typeof Codebook>;

/** A coded value: an ordinal rank, a nominal level id, or a set of level ids. */
export type StanceValue = number | string | readonly string[];

export function dimensionById(codebook: Codebook, id: string): CodebookDimension | undefined {
  return codebook.dimensions.find((d) => d.id === id);
}

export function ordinalRange(dim: CodebookDimension): { min: number; max: number } {
  const ranks = dim.levels.map((l) => l.rank ?? 0);
  return { min: Math.min(...ranks), max: Math.max(...ranks) };
}

/** Checks that a value fits a dimension's scale; returns an error message or null. */
export function checkStanceValue(dim: CodebookDimension, value: unknown): string | null {
  switch (dim.scale) {
    case 'ordinal': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return `dimension ${dim.id} is ordinal: expected an integer rank`;
      return dim.levels.some((l) => l.rank === value) ? null : `rank ${value} is not a level of ${dim.id}`;
    }
    case 'nominal': {
      if (typeof value !== 'string') return `dimension ${dim.id} is nominal: expected a level id`;
      return dim.levels.some((l) => l.id === value) ? null : `'${value}' is not a level of ${dim.id}`;
    }
    case 'set': {
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        return `dimension ${dim.id} is a set: expected a list of level ids`;
      }
      const unknown = (value as string[]).filter((v) => !dim.levels.some((l) => l.id === v));
      if (unknown.length > 0) return `${unknown.join(', ')} not levels of ${dim.id}`;
      return new Set(value).size === value.length ? null : `duplicate items in ${dim.id}`;
    }
  }
}
