import { z } from 'zod';

/** A calendar date, `YYYY-MM-DD`, checked to exist (no 2024-02-30). */
export const IsoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date as YYYY-MM-DD')
  .refine((s) => isRealDate(s), 'not a real calendar date');
export type IsoDate = string;

/** An RFC 3339 timestamp or a plain date; plain dates are read as midnight UTC. */
export const IsoDateOrDateTime = z
  .string()
  .refine((s) => toEpochMs(s) !== null, 'expected a date (YYYY-MM-DD) or an RFC 3339 date-time');

const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2}))?$/;

export function isRealDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d;
}

/** Milliseconds since the epoch, or null when the text is not a valid date or date-time. */
export function toEpochMs(s: string): number | null {
  const m = DATE_TIME.exec(s);
  if (!m) return null;
  if (!isRealDate(`${m[1]}-${m[2]}-${m[3]}`)) return null;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 60)) return null;
  const ms = m[4] === undefined ? Date.parse(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`) : Date.parse(s.replace(' ', 'T'));
  return Number.isNaN(ms) ? null : ms;
}

/** Compare two dates or date-times on the time line. */
export function compareInstants(a: string, b: string): number {
  const x = toEpochMs(a);
  const y = toEpochMs(b);
  if (x === null || y === null) throw new RangeError(`cannot compare ${a} and ${b}`);
  return x - y;
}

export function isOnOrBefore(a: string, b: string): boolean {
  return compareInstants(a, b) <= 0;
}

/** The clock is injected everywhere; the domain never reads the system time itself. */
export type Clock = () => Date;
export type IdGenerator = (seed?: string) => string;
