import { asKnownAt, compareInstants, type LogEvent, type StoredEvent } from '@regstream/domain';
import type { Row } from './format';
import { applicabilityRows, codedJurisdictions, divergence, gap, instruments, milestones, series, stances, type TimeQuery } from './views';

/** Every view the CLI can export or query, as flat rows. */
export const VIEWS = ['events', 'timeline', 'instruments', 'stances', 'divergence', 'series', 'gap', 'applicability'] as const;
export type View = (typeof VIEWS)[number];

export interface ViewQuery extends TimeQuery {
  readonly jurisdictions?: readonly string[];
  readonly dimension?: string;
  readonly variant?: 'all' | 'de_jure';
  readonly weights?: 'codebook' | 'equal';
  readonly from?: string;
  readonly to?: string;
  readonly pair?: readonly [string, string];
  /** Events only: whether a date was given (otherwise the raw log is exported as stored). */
  readonly dated?: boolean;
}

export const COLUMNS: Record<View, readonly string[]> = {
  events: ['position', 'id', 'type', 'subject', 'validtime', 'knowntime', 'recordedtime', 'streamversion', 'source', 'idempotencykey', 'citation_url', 'data'],
  timeline: ['jurisdiction', 'instrumentId', 'instrumentTitle', 'type', 'validTime', 'knownTime', 'provision', 'future', 'citation_url', 'eventId'],
  instruments: ['id', 'jurisdiction', 'kind', 'legalForce', 'status', 'issuingBody', 'title', 'citation_url'],
  stances: ['jurisdiction', 'dimension', 'value', 'validFrom', 'knownAt', 'confidence', 'basis', 'eventId'],
  divergence: ['a', 'b', 'value', 'band_low', 'band_high', 'coverage', 'missing'],
  series: ['series', 'validFrom', 'value', 'dispersion', 'causedBy'],
  gap: ['from', 'to', 'dimension', 'owed', 'fromValue', 'toValue', 'additionalAreas'],
  applicability: ['instrumentId', 'provision', 'appliesFrom', 'applies', 'changes'],
};

export function viewRows(view: View, raw: readonly StoredEvent[], log: readonly LogEvent[], q: ViewQuery, onProgress?: (d: number, t: number) => void): Row[] {
  switch (view) {
    case 'events': {
      // Without dates: the log as stored (re-importable). With --known-at: corrections applied, retractions
      // removed, as then known. With --as-of: only what had happened (valid time) by then.
      const known = q.knownAt !== undefined ? new Set(asKnownAt(log, q.knownAt).map((e) => e.id)) : null;
      return raw
        .filter((e) => (known ? known.has(e.id) : true) && (q.dated && q.asOf ? compareInstants(e.validtime, q.asOf) <= 0 : true))
        .map((e) => ({ ...e, citation_url: e.citation?.url }));
    }
    case 'timeline':
      return milestones(log, q).map((m) => ({ ...m, citation_url: m.citation?.url }));
    case 'instruments':
      return [...instruments(log, q).values()]
        .filter((i) => !q.jurisdictions || q.jurisdictions.includes(i.jurisdiction))
        .map((i) => ({ ...i, title: i.titles.en, citation_url: i.citation?.url }));
    case 'stances':
      return stances(log, q).map((s) => ({ ...s }));
    case 'divergence':
      return divergence(log, q).pairs.map((p) => ({ a: p.a, b: p.b, value: p.value, band_low: p.band?.[0] ?? null, band_high: p.band?.[1] ?? null, coverage: p.coverage.weightShare, missing: p.coverage.missing }));
    case 'series': {
      const base = { ...q, to: q.asOf };
      const pts = q.pair ? series(log, { ...base, a: q.pair[0], b: q.pair[1] }, undefined, onProgress) : series(log, base, undefined, onProgress);
      const name = q.pair ? `${q.pair[0]}-${q.pair[1]}` : 'global';
      return pts.map((p) => ({ series: name, ...p }));
    }
    case 'gap': {
      const js = q.jurisdictions ?? codedJurisdictions(log, q.knownAt);
      const pairs = q.from && q.to ? [[q.from, q.to] as const] : js.flatMap((a) => js.filter((b) => b !== a).map((b) => [a, b] as const));
      return pairs.flatMap(([from, to]) =>
        gap(log, { ...q, from, to }).items.map((i) => ({ from, to, dimension: i.dimension, owed: i.owed, fromValue: i.from, toValue: i.to, additionalAreas: i.additionalAreas ?? null })),
      );
    }
    case 'applicability':
      return applicabilityRows(log, q);
  }
}
