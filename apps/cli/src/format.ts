import { CODEBOOK_V1, dimensionById, type StanceValue } from '@regstream/domain';

/** Output formats: NDJSON, CSV (RFC 4180) and aligned text tables. */

/** A coded value in the codebook's words: `3` → `Comprehensive binding law`. */
export function levelLabel(dimension: string, v: StanceValue): string {
  const dim = dimensionById(CODEBOOK_V1, dimension);
  const one = (x: string | number) => dim?.levels.find((l) => (typeof x === 'number' ? l.rank === x : l.id === x))?.label ?? String(x);
  if (Array.isArray(v)) return v.length ? v.map(one).join(', ') : 'none';
  return one(v as string | number);
}

export type Row = Record<string, unknown>;

export function ndjson(rows: readonly unknown[]): string {
  return rows.map((r) => `${JSON.stringify(r)}\n`).join('');
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function csvField(v: unknown): string {
  const s = cell(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** CSV with a header row; columns default to the keys of the first row. Objects and arrays become JSON. */
export function csv(rows: readonly Row[], columns: readonly string[] = Object.keys(rows[0] ?? {})): string {
  return [columns.map(csvField).join(','), ...rows.map((r) => columns.map((c) => csvField(r[c])).join(','))].map((l) => `${l}\r\n`).join('');
}

export function table(rows: readonly Row[], columns: readonly string[] = Object.keys(rows[0] ?? {}), maxWidth = 60): string {
  if (rows.length === 0) return '(no rows)\n';
  const text = (v: unknown) => {
    const s = cell(v).replace(/\s+/g, ' ');
    return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
  };
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => text(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line([...columns]), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => text(r[c]))))].join('\n') + '\n';
}

export function fixed(v: number | null | undefined, digits = 3): string {
  return v === null || v === undefined ? '—' : v.toFixed(digits);
}
