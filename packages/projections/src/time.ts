import { toEpochMs } from '@regstream/domain';

/**
 * Instants are stored as normalised UTC text (`YYYY-MM-DDTHH:mm:ss.sssZ`), which sorts the same way
 * on PostgreSQL and SQLite and compares with plain string comparison in TypeScript.
 */
export const INF = '9999-12-31T23:59:59.999Z';
export const NEG_INF = '0000-01-01T00:00:00.000Z';

export class InvalidInstantError extends Error {
  constructor(readonly value: string) {
    super(`not a date or RFC 3339 date-time: '${value}'`);
    this.name = 'InvalidInstantError';
  }
}

const memo = new Map<string, string>();

/** Normalises a date or date-time; throws InvalidInstantError when it is neither. */
export function norm(s: string): string {
  const hit = typeof s === 'string' ? memo.get(s) : undefined;
  if (hit !== undefined) return hit;
  const ms = typeof s === 'string' ? toEpochMs(s) : null;
  if (ms === null) throw new InvalidInstantError(String(s));
  const out = new Date(ms).toISOString();
  if (memo.size > 200_000) memo.clear();
  memo.set(s, out);
  return out;
}

export function tryNorm(s: unknown): string | null {
  if (typeof s !== 'string') return null;
  try {
    return norm(s);
  } catch {
    return null;
  }
}

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Adds whole days to a normalised instant. */
export function addDays(iso: string, days: number): string {
  return new Date(Date.parse(iso) + days * 86_400_000).toISOString();
}
