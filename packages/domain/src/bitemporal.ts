import type { EventData } from './events/catalogue';
import type { AnyEnvelope, EventEnvelope } from './events/envelope';
import { compareInstants } from './time';

/**
 * Bitemporal views over the log. Known time decides what the world could know; valid time decides
 * what held in the world. Corrections and retractions are events too: they change what is known
 * from their own known time on, and never edit history.
 */

export interface Ordered {
  /** Tie-break within equal times: the log order (global position or file order). */
  readonly order?: number;
}
export type LogEvent = AnyEnvelope & Ordered;

function byKnownThenOrder(a: LogEvent, b: LogEvent): number {
  return compareInstants(a.knowntime, b.knowntime) || (a.order ?? 0) - (b.order ?? 0);
}

/** The events as they were known at `knownAt` (inclusive), with corrections applied and retractions removed. */
export function asKnownAt(events: readonly LogEvent[], knownAt?: string): LogEvent[] {
  const known = (knownAt === undefined ? [...events] : events.filter((e) => compareInstants(e.knowntime, knownAt) <= 0)).sort(
    byKnownThenOrder,
  );
  const byId = new Map<string, LogEvent>();
  const result: LogEvent[] = [];
  for (const e of known) {
    if (e.type === 'RecordCorrected' || e.type === 'RecordRetracted') continue;
    byId.set(e.id, e);
    result.push(e);
  }
  const retracted = new Set<string>();
  for (const e of known) {
    if (e.type === 'RecordRetracted') retracted.add(e.data.targetEventId);
    if (e.type === 'RecordCorrected') {
      const target = byId.get(e.data.targetEventId);
      if (!target) continue;
      const { validtime, ...dataChanges } = e.data.changes;
      const corrected = {
        ...target,
        ...(typeof validtime === 'string' ? { validtime } : {}),
        data: { ...target.data, ...dataChanges },
      } as LogEvent;
      byId.set(target.id, corrected);
    }
  }
  return result.filter((e) => !retracted.has(e.id)).map((e) => byId.get(e.id) ?? e);
}

export interface StanceFact {
  readonly eventId: string;
  readonly jurisdiction: string;
  readonly dimension: string;
  readonly value: number | string | readonly string[];
  readonly validFrom: string;
  readonly knownAt: string;
  readonly confidence: number;
  readonly provisions: readonly string[];
  readonly codebookVersion: string;
}

export type StanceMatrix = ReadonlyMap<string, ReadonlyMap<string, StanceFact>>;

function toStanceFact(e: EventEnvelope<'StanceCoded'>): StanceFact {
  const d: EventData<'StanceCoded'> = e.data;
  return {
    eventId: e.id,
    jurisdiction: d.jurisdiction,
    dimension: d.dimension,
    value: d.value,
    validFrom: e.validtime,
    knownAt: e.knowntime,
    confidence: d.confidence,
    provisions: d.provisions,
    codebookVersion: d.codebookVersion,
  };
}

/** The stance matrix (jurisdiction → dimension → stance) valid at `asOf` as known at `knownAt`. */
export function stanceMatrix(events: readonly LogEvent[], asOf: string, knownAt?: string): StanceMatrix {
  const matrix = new Map<string, Map<string, StanceFact & { order: number }>>();
  for (const e of asKnownAt(events, knownAt)) {
    if (e.type !== 'StanceCoded' || compareInstants(e.validtime, asOf) > 0) continue;
    const fact = { ...toStanceFact(e), order: e.order ?? 0 };
    const row = matrix.get(fact.jurisdiction) ?? new Map<string, StanceFact & { order: number }>();
    const current = row.get(fact.dimension);
    const newer =
      !current ||
      compareInstants(fact.validFrom, current.validFrom) > 0 ||
      (compareInstants(fact.validFrom, current.validFrom) === 0 &&
        (compareInstants(fact.knownAt, current.knownAt) > 0 ||
          (compareInstants(fact.knownAt, current.knownAt) === 0 && fact.order >= current.order)));
    if (newer) row.set(fact.dimension, fact);
    matrix.set(fact.jurisdiction, row);
  }
  return matrix;
}

export interface ApplicabilityStep {
  readonly eventId: string;
  readonly type: 'ProvisionBecameApplicable' | 'ApplicationPostponed' | 'ApplicationBroughtForward';
  readonly date: string;
  readonly knownAt: string;
}

export interface Applicability {
  readonly instrumentId: string;
  readonly provision: string;
  /** The date from which the provision applies, as known. */
  readonly appliesFrom: string;
  readonly history: readonly ApplicabilityStep[];
}

/**
 * When each provision of an instrument applies, as known at `knownAt`. Postponements take effect
 * in the order they became known; with `asOf`, only changes already in force at `asOf` count.
 */
export function applicability(
  events: readonly LogEvent[],
  opts: { instrumentId?: string; knownAt?: string; asOf?: string } = {},
): Applicability[] {
  const state = new Map<string, { instrumentId: string; provision: string; appliesFrom: string; history: ApplicabilityStep[] }>();
  const key = (i: string, p: string) => `${i}\u0000${p}`;
  const known = asKnownAt(events, opts.knownAt).sort(byKnownThenOrder);
  for (const e of known) {
    if (opts.instrumentId !== undefined && 'instrumentId' in e.data && e.data.instrumentId !== opts.instrumentId) continue;
    if (e.type === 'ProvisionBecameApplicable') {
      const k = key(e.data.instrumentId, e.data.provision);
      const step: ApplicabilityStep = { eventId: e.id, type: e.type, date: e.validtime, knownAt: e.knowntime };
      const prior = state.get(k);
      state.set(k, {
        instrumentId: e.data.instrumentId,
        provision: e.data.provision,
        appliesFrom: e.validtime,
        history: [...(prior?.history ?? []), step],
      });
    } else if (e.type === 'ApplicationPostponed' || e.type === 'ApplicationBroughtForward') {
      if (opts.asOf !== undefined && compareInstants(e.validtime, opts.asOf) > 0) continue;
      const k = key(e.data.instrumentId, e.data.provision);
      const prior = state.get(k);
      const step: ApplicabilityStep = { eventId: e.id, type: e.type, date: e.data.newDate, knownAt: e.knowntime };
      state.set(k, {
        instrumentId: e.data.instrumentId,
        provision: e.data.provision,
        appliesFrom: e.data.newDate,
        history: [...(prior?.history ?? []), step],
      });
    }
  }
  return [...state.values()].sort((a, b) => compareInstants(a.appliesFrom, b.appliesFrom) || a.provision.localeCompare(b.provision));
}
