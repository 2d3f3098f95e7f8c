import {
  aggregateIndex,
  type Applicability,
  applicability,
  CODEBOOK_V1,
  type CodedValue,
  type LogEvent,
  pairMatrix,
  pairwiseIndex,
  type Profile,
  type StanceMatrix,
  stanceMatrix,
  type StoredEvent,
  toEpochMs,
} from '@regstream/domain';
import type { DivergenceRule, Filters } from '../subscriptions/model';

/*
 * Pure matching: what an event is about, whether filters match, divergence before/after a change and
 * applicability changes. The state it reads (kept events) lives in KeptState.
 */

export const STANCE_TYPES = new Set(['StanceCoded']);
export const APPLICABILITY_TYPES = new Set(['ProvisionBecameApplicable', 'ApplicationPostponed', 'ApplicationBroughtForward']);
const CORRECTIONS = new Set(['RecordCorrected', 'RecordRetracted']);

/** The subset of the log the matcher keeps: stances, applicability and instrument jurisdictions. */
export class KeptState {
  private readonly byId = new Map<string, LogEvent>();
  readonly stanceLog: LogEvent[] = [];
  private readonly applicabilityLogs = new Map<string, LogEvent[]>();
  private readonly jurisdictions = new Map<string, string>();

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): LogEvent | undefined {
    return this.byId.get(id);
  }

  jurisdictionOf(instrumentId: string): string | undefined {
    return this.jurisdictions.get(instrumentId);
  }

  /** Whether an event belongs in the kept subset (corrections only when their target is kept). */
  keeps(e: StoredEvent): boolean {
    if (this.byId.has(e.id)) return false;
    if (e.type === 'InstrumentRegistered' || STANCE_TYPES.has(e.type) || APPLICABILITY_TYPES.has(e.type)) return true;
    if (e.type === 'RecordCorrected' || e.type === 'RecordRetracted') return this.byId.has(e.data.targetEventId);
    return false;
  }

  /** The stream an event (or its correction) sits in for applicability: the instrument id. */
  applicabilityInstrument(e: LogEvent): string | null {
    if (APPLICABILITY_TYPES.has(e.type)) return (e.data as { instrumentId: string }).instrumentId;
    if (e.type === 'RecordCorrected' || e.type === 'RecordRetracted') {
      const t = this.byId.get(e.data.targetEventId);
      if (t && APPLICABILITY_TYPES.has(t.type)) return (t.data as { instrumentId: string }).instrumentId;
    }
    return null;
  }

  isStanceChange(e: LogEvent): boolean {
    if (STANCE_TYPES.has(e.type)) return true;
    if (e.type === 'RecordCorrected' || e.type === 'RecordRetracted') return STANCE_TYPES.has(this.byId.get(e.data.targetEventId)?.type ?? '');
    return false;
  }

  applicabilityLog(instrumentId: string): readonly LogEvent[] {
    return this.applicabilityLogs.get(instrumentId) ?? [];
  }

  allApplicability(): Applicability[] {
    return [...this.applicabilityLogs.values()].flatMap((log) => applicability(log));
  }

  add(e: LogEvent): void {
    if (this.byId.has(e.id)) return;
    if (e.type === 'InstrumentRegistered') {
      this.jurisdictions.set(e.data.instrumentId, e.data.jurisdiction);
      this.byId.set(e.id, e);
      return;
    }
    if (this.isStanceChange(e)) {
      this.stanceLog.push(e);
      this.byId.set(e.id, e);
      return;
    }
    const instrument = this.applicabilityInstrument(e);
    if (instrument !== null) {
      const log = this.applicabilityLogs.get(instrument) ?? [];
      log.push(e);
      this.applicabilityLogs.set(instrument, log);
      this.byId.set(e.id, e);
    }
  }
}

export function logEvent(e: StoredEvent): LogEvent {
  return { ...e, order: Number(e.position) };
}

export interface EventFacts {
  readonly type: string;
  readonly jurisdiction: string | null;
  readonly instruments: readonly string[];
  readonly dimension: string | null;
}

function jurisdictionFromSubject(subject: string, state: KeptState): string | null {
  if (subject.startsWith('stances-')) return subject.slice('stances-'.length).toUpperCase();
  if (subject.startsWith('instrument-')) return state.jurisdictionOf(subject.slice('instrument-'.length)) ?? null;
  return null;
}

/** What an event is about, for filters; a correction is about what its target is about. */
export function factsOf(e: LogEvent, state: KeptState): EventFacts {
  const target = CORRECTIONS.has(e.type) ? state.get((e.data as { targetEventId: string }).targetEventId) : undefined;
  const subject = target ?? e;
  const data = subject.data as Record<string, unknown>;
  if (subject.type === 'StanceCoded') {
    const provisions = (data['provisions'] as string[] | undefined) ?? [];
    return {
      type: e.type,
      jurisdiction: String(data['jurisdiction']),
      instruments: [...new Set(provisions.map((p) => p.split(':')[0] ?? p))],
      dimension: String(data['dimension']),
    };
  }
  const instrumentId = typeof data['instrumentId'] === 'string' ? data['instrumentId'] : subject.subject.startsWith('instrument-') ? subject.subject.slice(11) : null;
  const jurisdiction =
    subject.type === 'InstrumentRegistered' ? String(data['jurisdiction']) : ((instrumentId ? state.jurisdictionOf(instrumentId) : undefined) ?? jurisdictionFromSubject(subject.subject, state));
  return { type: e.type, jurisdiction, instruments: instrumentId ? [instrumentId] : [], dimension: null };
}

/** Every given filter must match (OR within a list, AND across lists). */
export function filtersMatch(f: Filters, facts: EventFacts): boolean {
  if (f.eventTypes && !f.eventTypes.includes(facts.type as never)) return false;
  if (f.jurisdictions && (facts.jurisdiction === null || !f.jurisdictions.includes(facts.jurisdiction))) return false;
  if (f.instruments && !facts.instruments.some((i) => f.instruments?.includes(i))) return false;
  if (f.dimensions && (facts.dimension === null || !f.dimensions.includes(facts.dimension))) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------
// Divergence

export function profilesOf(matrix: StanceMatrix): Map<string, Profile> {
  const out = new Map<string, Profile>();
  for (const [jurisdiction, row] of matrix) {
    const profile = new Map<string, CodedValue>();
    for (const [dimension, fact] of row) {
      if (fact.codebookVersion !== CODEBOOK_V1.version) continue;
      profile.set(dimension, { value: fact.value, confidence: fact.confidence });
    }
    out.set(jurisdiction, profile);
  }
  return out;
}

export interface IndexSnapshot {
  readonly value: number | null;
  /** What was measured, for the alert body. */
  readonly over: { readonly jurisdictions: readonly string[]; readonly dimensions: readonly string[] | 'all' };
}

/** The index a divergence rule watches, on the given profiles. */
export function watchedIndex(rule: DivergenceRule, filters: Filters, profiles: ReadonlyMap<string, Profile>): IndexSnapshot {
  const dims = rule.dimension ? [rule.dimension] : filters.dimensions;
  const opts = dims ? { dimensions: dims } : {};
  const empty: Profile = new Map();
  if (rule.a !== undefined && rule.b !== undefined && rule.scope !== 'global') {
    const v = pairwiseIndex(CODEBOOK_V1, profiles.get(rule.a) ?? empty, profiles.get(rule.b) ?? empty, opts).value;
    return { value: v, over: { jurisdictions: [rule.a, rule.b], dimensions: dims ?? 'all' } };
  }
  const jurisdictions = filters.jurisdictions ?? [...profiles.keys()].sort();
  const agg = aggregateIndex(pairMatrix(CODEBOOK_V1, profiles, jurisdictions, opts));
  return { value: agg.value, over: { jurisdictions, dimensions: dims ?? 'all' } };
}

/** Could a change to (jurisdiction, dimension) move this rule's index? */
export function ruleConcerns(rule: DivergenceRule, filters: Filters, facts: EventFacts): boolean {
  const dims = rule.dimension ? [rule.dimension] : filters.dimensions;
  if (dims && facts.dimension !== null && !dims.includes(facts.dimension)) return false;
  if (facts.jurisdiction === null) return true;
  if (rule.a !== undefined && rule.b !== undefined && rule.scope !== 'global') return facts.jurisdiction === rule.a || facts.jurisdiction === rule.b;
  return filters.jurisdictions ? filters.jurisdictions.includes(facts.jurisdiction) : true;
}

export interface ThresholdHit {
  readonly crossed: 'up' | 'down' | null;
  readonly moved: boolean;
  readonly delta: number;
}

const EPS = 1e-9;

/** Crossing X: from below to at-or-above, or back. Moving: |after − before| ≥ Δ. Undefined indices never alert. */
export function thresholdHit(rule: Pick<DivergenceRule, 'crosses' | 'movesBy'>, before: number | null, after: number | null): ThresholdHit | null {
  if (before === null || after === null) return null;
  const delta = after - before;
  let crossed: ThresholdHit['crossed'] = null;
  if (rule.crosses !== undefined) {
    if (before < rule.crosses - EPS && after >= rule.crosses - EPS) crossed = 'up';
    else if (before >= rule.crosses - EPS && after < rule.crosses - EPS) crossed = 'down';
  }
  const moved = rule.movesBy !== undefined && Math.abs(delta) >= rule.movesBy - EPS;
  return crossed !== null || moved ? { crossed, moved, delta } : null;
}

export function matrixAt(log: readonly LogEvent[], asOf: string): StanceMatrix {
  return stanceMatrix(log, asOf);
}

// ---------------------------------------------------------------------------------------------------
// Applicability

export interface ApplicabilityChange {
  readonly instrumentId: string;
  readonly provision: string;
  readonly before: string | null;
  readonly after: string | null;
}

/** Provisions of one instrument whose applicability date differs between two logs. */
export function applicabilityChanges(instrumentId: string, before: readonly LogEvent[], after: readonly LogEvent[]): ApplicabilityChange[] {
  const b = new Map(applicability(before).map((a) => [a.provision, a.appliesFrom]));
  const a = new Map(applicability(after).map((x) => [x.provision, x.appliesFrom]));
  const out: ApplicabilityChange[] = [];
  for (const provision of new Set([...b.keys(), ...a.keys()])) {
    const x = b.get(provision) ?? null;
    const y = a.get(provision) ?? null;
    const same = x !== null && y !== null ? toEpochMs(x) === toEpochMs(y) : x === y;
    if (!same) out.push({ instrumentId, provision, before: x, after: y });
  }
  return out;
}
