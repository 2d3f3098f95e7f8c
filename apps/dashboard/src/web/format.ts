import type { Codebook, Meta } from './meta.js';
import type { StanceValue } from './api.js';

export function num(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined || Number.isNaN(v) ? '—' : v.toFixed(digits);
}

export function pct(v: number | null | undefined, digits = 0): string {
  return v === null || v === undefined || Number.isNaN(v) ? '—' : `${(v * 100).toFixed(digits)}%`;
}

/** `2024-08-01T00:00:00Z` → `2024-08-01`. */
export function day(s: string | null | undefined): string {
  return s ? s.slice(0, 10) : '—';
}

export function todayIso(): string {
  return new Date().toISOString().slice(0, 10);
}

export function isoToDays(iso: string): number {
  return Math.floor(Date.parse(`${iso.slice(0, 10)}T00:00:00Z`) / 86_400_000);
}

export function daysToIso(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

export function isIsoDate(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));
}

/** `InstrumentEnteredIntoForce` → `Instrument entered into force`. */
export function humanType(t: string): string {
  const words = t.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function dimensionLabel(meta: Meta | null, id: string): string {
  return meta?.codebook.dimensions.find((d) => d.id === id)?.label ?? id;
}

/** A coded value in words: ordinal rank, nominal level or set of levels. */
const isList = (v: StanceValue): v is readonly string[] => Array.isArray(v);

export function stanceLabel(codebook: Codebook | undefined, dimension: string, v: StanceValue): string {
  const dim = codebook?.dimensions.find((d) => d.id === dimension);
  if (!dim) return isList(v) ? v.join(', ') : String(v);
  if (isList(v)) return v.length ? v.map((x: string) => dim.levels.find((l) => l.id === x)?.label ?? x).join(', ') : 'none';
  if (typeof v === 'number') return dim.levels.find((l) => l.rank === v)?.label ?? String(v);
  return dim.levels.find((l) => l.id === v)?.label ?? String(v);
}

export function relative(iso: string | null | undefined): string {
  if (!iso) return '';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  if (Number.isNaN(s)) return '';
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return day(iso);
}
