import {
  aggregateIndex,
  applicability,
  asKnownAt,
  type Citation,
  type CodedValue,
  type Codebook,
  CODEBOOK_V1,
  compareInstants,
  complianceGap,
  type ComplianceGap,
  type EventEnvelope,
  type IndexOptions,
  isMilestoneType,
  type LogEvent,
  pairMatrix,
  type Profile,
  stanceMatrix,
  type StanceMatrix,
  type StoredEvent,
} from '@regstream/domain';
import { DEFAULT_JURISDICTIONS } from '@regstream/projections';

/**
 * Read views computed straight from the event log with the domain functions: the same answers as
 * the read models, without needing them. Used by `query`, `export` and `report`.
 */

export interface TimeQuery {
  /** Valid time (YYYY-MM-DD or date-time). */
  readonly asOf: string;
  /** Known time; undefined = everything known. */
  readonly knownAt?: string;
}

export function toLog(events: readonly StoredEvent[]): LogEvent[] {
  return events.map((e) => ({ ...e, order: Number(e.position) }));
}

const isoDay = (s: string) => s.slice(0, 10);

// ---------- instruments and the timeline ----------

export interface InstrumentInfo {
  readonly id: string;
  readonly jurisdiction: string;
  readonly kind: string;
  readonly legalForce: string;
  readonly issuingBody: string;
  readonly titles: { readonly en: string; readonly original?: string; readonly originalLang?: string };
  readonly identifiers: Record<string, string>;
  readonly status: string;
  readonly citation: Citation | null;
}

export interface MilestoneRow {
  readonly eventId: string;
  readonly instrumentId: string;
  readonly instrumentTitle: string;
  readonly jurisdiction: string;
  readonly type: string;
  readonly validTime: string;
  readonly knownTime: string;
  readonly provision?: string;
  readonly summary?: string;
  readonly future: boolean;
  readonly citation: Citation | null;
}

const STATUS_OF: Record<string, string> = {
  InstrumentProposed: 'proposed',
  PositionAdopted: 'in_negotiation',
  PoliticalAgreementReached: 'agreed',
  InstrumentAdopted: 'adopted',
  InstrumentSigned: 'signed',
  InstrumentPublished: 'published',
  InstrumentEnteredIntoForce: 'in_force',
  ProvisionBecameApplicable: 'in_force',
  InstrumentRevoked: 'revoked',
  InstrumentSuperseded: 'superseded',
  InstrumentLapsed: 'lapsed',
};

/** Every registered instrument as known at `knownAt`, with its status as of `asOf`. */
export function instruments(log: readonly LogEvent[], q: TimeQuery): Map<string, InstrumentInfo> {
  const known = asKnownAt(log, q.knownAt);
  const out = new Map<string, InstrumentInfo>();
  for (const e of known) {
    if (e.type !== 'InstrumentRegistered') continue;
    const d = e.data;
    out.set(d.instrumentId, {
      id: d.instrumentId,
      jurisdiction: d.jurisdiction,
      kind: d.kind,
      legalForce: d.legalForce,
      issuingBody: d.issuingBody,
      titles: d.titles,
      identifiers: d.identifiers ?? {},
      status: 'registered',
      citation: e.citation ?? null,
    });
  }
  const ordered = known.filter((e) => isMilestoneType(e.type) && compareInstants(e.validtime, q.asOf) <= 0).sort((a, b) => compareInstants(a.validtime, b.validtime));
  for (const e of ordered) {
    const id = (e.data as { instrumentId?: string }).instrumentId;
    const status = STATUS_OF[e.type];
    const inst = id ? out.get(id) : undefined;
    if (inst && status) out.set(inst.id, { ...inst, status });
  }
  return out;
}

export function milestones(log: readonly LogEvent[], q: TimeQuery & { readonly jurisdictions?: readonly string[]; readonly instrumentId?: string }): MilestoneRow[] {
  const insts = instruments(log, q);
  const rows: MilestoneRow[] = [];
  for (const e of asKnownAt(log, q.knownAt)) {
    if (!isMilestoneType(e.type)) continue;
    const d = e.data as { instrumentId: string; provision?: string; summary?: string };
    const inst = insts.get(d.instrumentId);
    if (!inst) continue;
    if (q.instrumentId !== undefined && d.instrumentId !== q.instrumentId) continue;
    if (q.jurisdictions && !q.jurisdictions.includes(inst.jurisdiction)) continue;
    rows.push({
      eventId: e.id,
      instrumentId: d.instrumentId,
      instrumentTitle: inst.titles.en,
      jurisdiction: inst.jurisdiction,
      type: e.type,
      validTime: e.validtime,
      knownTime: e.knowntime,
      ...(d.provision !== undefined ? { provision: d.provision } : {}),
      ...(d.summary !== undefined ? { summary: d.summary } : {}),
      future: compareInstants(e.validtime, q.asOf) > 0,
      citation: e.citation ?? null,
    });
  }
  return rows.sort((a, b) => a.jurisdiction.localeCompare(b.jurisdiction) || compareInstants(a.validTime, b.validTime) || a.instrumentId.localeCompare(b.instrumentId));
}

export interface Timeline {
  readonly asOf: string;
  readonly knownAt: string | null;
  readonly lanes: { readonly jurisdiction: string; readonly milestones: MilestoneRow[] }[];
}

export function timeline(log: readonly LogEvent[], q: TimeQuery & { readonly jurisdictions?: readonly string[] }): Timeline {
  const lanes = new Map<string, MilestoneRow[]>();
  for (const m of milestones(log, q)) lanes.set(m.jurisdiction, [...(lanes.get(m.jurisdiction) ?? []), m]);
  return {
    asOf: q.asOf,
    knownAt: q.knownAt ?? null,
    lanes: [...lanes.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([jurisdiction, ms]) => ({ jurisdiction, milestones: ms })),
  };
}

export function instrumentDetail(log: readonly LogEvent[], id: string, q: TimeQuery) {
  const inst = instruments(log, q).get(id);
  if (!inst) return null;
  return {
    instrument: inst,
    milestones: milestones(log, { ...q, instrumentId: id }),
    applicability: applicability(log, { instrumentId: id, ...(q.knownAt !== undefined ? { knownAt: q.knownAt } : {}), asOf: q.asOf }).map((a) => ({ provision: a.provision, appliesFrom: a.appliesFrom, history: a.history })),
  };
}

// ---------- stances and divergence ----------

export interface StanceRow {
  readonly jurisdiction: string;
  readonly dimension: string;
  readonly value: number | string | readonly string[];
  readonly validFrom: string;
  readonly knownAt: string;
  readonly confidence: number;
  readonly basis: string | null;
  readonly provisions: readonly string[];
  readonly eventId: string;
}

function basisOf(log: readonly LogEvent[]): Map<string, CodedValue['basis']> {
  const m = new Map<string, CodedValue['basis']>();
  for (const e of log) if (e.type === 'StanceCoded' && e.data.basis) m.set(e.id, e.data.basis);
  return m;
}

export function stances(log: readonly LogEvent[], q: TimeQuery & { readonly jurisdictions?: readonly string[] }): StanceRow[] {
  const basis = basisOf(log);
  const rows: StanceRow[] = [];
  for (const [j, dims] of stanceMatrix(log, q.asOf, q.knownAt)) {
    if (q.jurisdictions && !q.jurisdictions.includes(j)) continue;
    for (const f of dims.values()) {
      rows.push({ jurisdiction: j, dimension: f.dimension, value: f.value, validFrom: f.validFrom, knownAt: f.knownAt, confidence: f.confidence, basis: basis.get(f.eventId) ?? null, provisions: f.provisions, eventId: f.eventId });
    }
  }
  return rows.sort((a, b) => a.jurisdiction.localeCompare(b.jurisdiction) || a.dimension.localeCompare(b.dimension));
}

function profiles(matrix: StanceMatrix, basis: ReadonlyMap<string, CodedValue['basis']>): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const [j, dims] of matrix) {
    const p = new Map<string, CodedValue>();
    for (const f of dims.values()) {
      const b = basis.get(f.eventId);
      p.set(f.dimension, { value: f.value, confidence: f.confidence, ...(b ? { basis: b } : {}) });
    }
    out.set(j, p);
  }
  return out;
}

/** The jurisdictions the divergence index compares by default: the read models' (and the API's) set. */
export const INDEX_JURISDICTIONS: readonly string[] = DEFAULT_JURISDICTIONS;

/** Every jurisdiction with a stance coding known at `knownAt`, whatever its valid time. */
export function codedJurisdictions(log: readonly LogEvent[], knownAt?: string): string[] {
  const js = new Set<string>();
  for (const e of asKnownAt(log, knownAt)) if (e.type === 'StanceCoded') js.add(e.data.jurisdiction);
  return [...js].sort();
}

export interface DivergenceQuery extends TimeQuery {
  readonly jurisdictions?: readonly string[];
  readonly dimension?: string;
  readonly variant?: 'all' | 'de_jure';
  readonly weights?: 'codebook' | 'equal';
}

export interface Divergence {
  readonly asOf: string;
  readonly knownAt: string | null;
  readonly codebookVersion: string;
  readonly methodologyVersion: string;
  readonly jurisdictions: string[];
  readonly pairs: { a: string; b: string; value: number | null; band: readonly [number, number] | null; coverage: { covered: readonly string[]; missing: readonly string[]; weightShare: number } }[];
  readonly global: { value: number | null; dispersion: number | null; pairs: number; meanCoverage: number };
  readonly coverage: Record<string, number>;
}

function indexOptions(q: DivergenceQuery): IndexOptions {
  return { ...(q.dimension ? { dimensions: [q.dimension] } : {}), ...(q.variant ? { variant: q.variant } : {}), ...(q.weights ? { weights: q.weights } : {}) };
}

export function divergence(log: readonly LogEvent[], q: DivergenceQuery, codebook: Codebook = CODEBOOK_V1): Divergence {
  const matrix = stanceMatrix(log, q.asOf, q.knownAt);
  const profs = profiles(matrix, basisOf(log));
  const js = [...new Set(q.jurisdictions ?? INDEX_JURISDICTIONS)].sort();
  const entries = pairMatrix(codebook, profs, js, indexOptions(q));
  const agg = aggregateIndex(entries);
  const dims = q.dimension ? codebook.dimensions.filter((d) => d.id === q.dimension) : codebook.dimensions;
  const coverage: Record<string, number> = {};
  for (const d of dims) coverage[d.id] = js.length === 0 ? 0 : js.filter((j) => profs.get(j)?.has(d.id)).length / js.length;
  return {
    asOf: q.asOf,
    knownAt: q.knownAt ?? null,
    codebookVersion: codebook.version,
    methodologyVersion: codebook.methodologyVersion,
    jurisdictions: js,
    pairs: entries.map((p) => ({ a: p.a, b: p.b, value: p.index.value, band: p.index.band, coverage: p.index.coverage })),
    global: { value: agg.value, dispersion: agg.dispersion, pairs: agg.pairs, meanCoverage: agg.meanCoverage },
    coverage,
  };
}

export interface SeriesPoint {
  readonly validFrom: string;
  readonly value: number | null;
  readonly dispersion: number | null;
  readonly causedBy: string[];
}

/**
 * The index over time: one point at every valid date on which a known coding changes, up to `to`.
 * With `a` and `b`, the pairwise index of that pair; otherwise the global index.
 */
export function series(
  log: readonly LogEvent[],
  q: Omit<DivergenceQuery, 'asOf'> & { readonly from?: string; readonly to?: string; readonly a?: string; readonly b?: string },
  codebook: Codebook = CODEBOOK_V1,
  onProgress?: (done: number, total: number) => void,
): SeriesPoint[] {
  const known = asKnownAt(log, q.knownAt).filter((e): e is LogEvent & EventEnvelope<'StanceCoded'> => e.type === 'StanceCoded');
  const js = q.a && q.b ? [q.a, q.b] : [...(q.jurisdictions ?? INDEX_JURISDICTIONS)];
  const relevant = known.filter((e) => js.includes(e.data.jurisdiction) && (!q.dimension || e.data.dimension === q.dimension));
  const dates = [...new Set(relevant.map((e) => isoDay(e.validtime)))]
    .filter((d) => (q.to === undefined || compareInstants(d, q.to) <= 0))
    .sort();
  const points: SeriesPoint[] = [];
  let prev: number | null | undefined;
  dates.forEach((date, i) => {
    const d = divergence(log, { asOf: date, ...(q.knownAt !== undefined ? { knownAt: q.knownAt } : {}), jurisdictions: js, ...(q.dimension ? { dimension: q.dimension } : {}), ...(q.variant ? { variant: q.variant } : {}), ...(q.weights ? { weights: q.weights } : {}) }, codebook);
    const pair = q.a && q.b ? d.pairs[0] : undefined;
    const value = pair ? pair.value : d.global.value;
    const dispersion = pair ? null : d.global.dispersion;
    const causedBy = relevant.filter((e) => isoDay(e.validtime) === date).map((e) => e.id);
    onProgress?.(i + 1, dates.length);
    if (q.from !== undefined && compareInstants(date, q.from) < 0) {
      prev = value;
      return;
    }
    if (value === prev && points.length > 0) return;
    prev = value;
    points.push({ validFrom: date, value, dispersion, causedBy });
  });
  return points;
}

export function gap(log: readonly LogEvent[], q: TimeQuery & { readonly from: string; readonly to: string }, codebook: Codebook = CODEBOOK_V1): ComplianceGap {
  const profs = profiles(stanceMatrix(log, q.asOf, q.knownAt), basisOf(log));
  return complianceGap(codebook, q.from, profs.get(q.from) ?? new Map(), q.to, profs.get(q.to) ?? new Map());
}

export function applicabilityRows(log: readonly LogEvent[], q: TimeQuery) {
  return applicability(log, { ...(q.knownAt !== undefined ? { knownAt: q.knownAt } : {}), asOf: q.asOf }).map((a) => ({
    instrumentId: a.instrumentId,
    provision: a.provision,
    appliesFrom: a.appliesFrom,
    applies: compareInstants(a.appliesFrom, q.asOf) <= 0,
    changes: a.history.length - 1,
  }));
}
