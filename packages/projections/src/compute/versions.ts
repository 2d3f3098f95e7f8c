import type { StoredEvent } from '@regstream/domain';
import { effectiveAt, epochsOf, type Fact } from '../facts';
import { canonical } from '../json';
import { INF, norm } from '../time';

/** One known-time version of an event: what was known about it from ktFrom until ktTo. */
export interface EventVersion {
  readonly ktFrom: string;
  readonly ktTo: string;
  readonly event: StoredEvent;
  /** Normalised effective valid time. */
  readonly vt: string;
}

/**
 * The known-time versions of one event: it appears at its known time, changes with each correction
 * from the correction's known time, and disappears with a retraction. History is never edited.
 */
export function eventVersions(base: Fact, related: readonly Fact[]): EventVersion[] {
  if (related.length === 0) return [{ ktFrom: base.kt, ktTo: INF, event: base.event, vt: base.vt }];
  const out: EventVersion[] = [];
  let open: { ktFrom: string; event: StoredEvent; sig: string } | null = null;
  for (const k of epochsOf(base, related)) {
    const e = effectiveAt(base, related, k);
    const sig = e === null ? '' : canonical([e.validtime, e.data]);
    if (open && open.sig === sig) continue;
    if (open) out.push({ ktFrom: open.ktFrom, ktTo: k, event: open.event, vt: norm(open.event.validtime) });
    open = e === null ? null : { ktFrom: k, event: e, sig };
  }
  if (open) out.push({ ktFrom: open.ktFrom, ktTo: INF, event: open.event, vt: norm(open.event.validtime) });
  return out;
}

/**
 * Lifecycle status a milestone implies, ranked along the lifecycle: an instrument's status at a date is
 * that of its highest-ranked milestone so far, so later guidance never moves it backwards.
 */
export function statusOf(e: StoredEvent): { status: string | null; rank: number } {
  switch (e.type) {
    case 'InstrumentProposed':
      return { status: 'proposed', rank: 1 };
    case 'PositionAdopted':
      return { status: 'in_negotiation', rank: 2 };
    case 'PoliticalAgreementReached':
      return { status: 'agreed', rank: 3 };
    case 'InstrumentAdopted':
      return { status: 'adopted', rank: 4 };
    case 'InstrumentSigned':
      return { status: 'signed', rank: 5 };
    case 'InstrumentPublished':
    case 'GuidanceIssued':
    case 'StandardPublished':
      return { status: 'published', rank: 6 };
    case 'InstrumentEnteredIntoForce':
      return { status: 'in_force', rank: 7 };
    case 'ProvisionBecameApplicable':
      return { status: 'applicable', rank: 8 };
    case 'InstrumentLapsed':
      return { status: 'lapsed', rank: 9 };
    case 'InstrumentSuperseded':
      return { status: 'superseded', rank: 10 };
    case 'InstrumentRevoked':
      return { status: e.data.mode, rank: 11 };
    default:
      return { status: null, rank: 0 };
  }
}

export const MILESTONE_COLUMNS = ['event_id', 'kt_from', 'kt_to', 'instrument_id', 'jurisdiction', 'type', 'vt', 'kt', 'position', 'status', 'status_rank', 'payload'] as const;
export const INSTRUMENT_COLUMNS = ['event_id', 'kt_from', 'kt_to', 'instrument_id', 'jurisdiction', 'vt', 'kt', 'position', 'payload'] as const;

/** Payloads are built in a fixed key order from normalised events, so JSON.stringify is canonical for them. */
export function milestoneRows(base: Fact, related: readonly Fact[], jurisdiction: string | null): unknown[][] {
  return eventVersions(base, related).map((v) => {
    const { instrumentId, provision, summary, ...details } = v.event.data as Record<string, unknown>;
    const { status, rank } = statusOf(v.event);
    const payload = {
      validTime: v.event.validtime,
      knownTime: v.event.knowntime,
      ...(typeof provision === 'string' ? { provision } : {}),
      ...(typeof summary === 'string' ? { summary } : {}),
      citation: v.event.citation ?? null,
      details,
    };
    return [base.eventId, v.ktFrom, v.ktTo, typeof instrumentId === 'string' ? instrumentId : base.instrumentId, jurisdiction, v.event.type, v.vt, base.kt, base.position.toString(), status, rank, JSON.stringify(payload)];
  });
}

export function instrumentRows(base: Fact, related: readonly Fact[]): unknown[][] {
  return eventVersions(base, related).map((v) => {
    if (v.event.type !== 'InstrumentRegistered') throw new Error('not a registration');
    const d = v.event.data;
    const payload = {
      kind: d.kind,
      legalForce: d.legalForce,
      issuingBody: d.issuingBody,
      titles: d.titles,
      identifiers: d.identifiers,
      citation: v.event.citation ?? null,
      validTime: v.event.validtime,
      knownTime: v.event.knowntime,
    };
    return [base.eventId, v.ktFrom, v.ktTo, base.instrumentId, d.jurisdiction, v.vt, base.kt, base.position.toString(), JSON.stringify(payload)];
  });
}
