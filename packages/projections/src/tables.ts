import { modelPrefix } from './schema';

export interface ModelTables {
  readonly model: string;
  readonly facts: string;
  readonly instruments: string;
  readonly milestones: string;
  readonly applicability: string;
  readonly stances: string;
  readonly divPoints: string;
  readonly jurisdictions: string;
}

export function tablesOf(model: string): ModelTables {
  const p = modelPrefix(model);
  return {
    model,
    facts: `${p}facts`,
    instruments: `${p}instruments`,
    milestones: `${p}milestones`,
    applicability: `${p}applicability`,
    stances: `${p}stances`,
    divPoints: `${p}div_points`,
    jurisdictions: `${p}jurisdictions`,
  };
}

export const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

export function chunks<T>(items: readonly T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
