import { type EventType, isEventType, parseEventData, type StoredEvent, upcast } from '@regstream/domain';
import { canonical, parseJson } from './json';
import { cmp, norm, tryNorm } from './time';

/** What a fact contributes to; decides which read models an event recomputes. */
export type FactCategory = 'registration' | 'milestone' | 'applicability' | 'stance' | 'correction' | 'retraction' | 'codebook';

/** An applied event, validated and normalised. Read models are functions of the set of facts. */
export interface Fact {
  readonly eventId: string;
  readonly position: bigint;
  readonly streamId: string;
  readonly type: EventType;
  readonly cat: FactCategory;
  readonly instrumentId: string | null;
  readonly jurisdiction: string | null;
  readonly targetEventId: string | null;
  /** Normalised valid and known time. */
  readonly vt: string;
  readonly kt: string;
  /** The event with its data parsed by the current schema. */
  readonly event: StoredEvent;
}

export class PoisonEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PoisonEventError';
  }
}

const APPLICABILITY: ReadonlySet<string> = new Set(['ProvisionBecameApplicable', 'ApplicationPostponed', 'ApplicationBroughtForward']);

export function categoryOf(type: EventType): FactCategory {
  switch (type) {
    case 'InstrumentRegistered':
      return 'registration';
    case 'StanceCoded':
      return 'stance';
    case 'RecordCorrected':
      return 'correction';
    case 'RecordRetracted':
      return 'retraction';
    case 'CodebookPublished':
      return 'codebook';
    default:
      return APPLICABILITY.has(type) ? 'applicability' : 'milestone';
  }
}

function normaliseCitation(c: unknown): StoredEvent['citation'] | undefined {
  if (c === null || typeof c !== 'object') return undefined;
  const x = c as Record<string, unknown>;
  return {
    url: x['url'],
    ...(x['pinpoint'] !== undefined ? { pinpoint: x['pinpoint'] } : {}),
    tier: x['tier'],
    retrievedAt: x['retrievedAt'],
    lastVerifiedAt: x['lastVerifiedAt'],
  } as StoredEvent['citation'];
}

function sortedRecord(r: unknown): unknown {
  return r !== null && typeof r === 'object' && !Array.isArray(r) ? (JSON.parse(canonical(r)) as unknown) : r;
}

/**
 * The envelope in a fixed shape (field order, citation and free-form records sorted; data in schema
 * order, as the parser emits it), so that `JSON.stringify` gives the same document on every path:
 * Kafka or store, PostgreSQL or SQLite.
 */
function normaliseEvent(e: StoredEvent, type: EventType, schemaversion: number, parsed: Record<string, unknown>): StoredEvent {
  let data = parsed;
  if (type === 'InstrumentRegistered') data = { ...parsed, identifiers: sortedRecord(parsed['identifiers']) };
  if (type === 'RecordCorrected') data = { ...parsed, changes: sortedRecord(parsed['changes']) };
  const citation = normaliseCitation(e.citation);
  return {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type,
    schemaversion,
    subject: e.subject,
    time: e.time,
    datacontenttype: 'application/json',
    validtime: e.validtime,
    knowntime: e.knowntime,
    ...(citation ? { citation } : {}),
    ...(e.idempotencykey ? { idempotencykey: e.idempotencykey } : {}),
    ...(e.correlationid ? { correlationid: e.correlationid } : {}),
    ...(e.causationid ? { causationid: e.causationid } : {}),
    data,
    recordedtime: e.recordedtime,
    streamversion: Number(e.streamversion),
    position: String(e.position),
  } as StoredEvent;
}

/** Validates one event and turns it into a fact; throws PoisonEventError when no handler can take it. */
export function prepareFact(e: StoredEvent): Fact {
  if (typeof e.id !== 'string' || e.id === '') throw new PoisonEventError('event without an id');
  if (!/^\d{1,19}$/.test(String(e.position))) throw new PoisonEventError(`position '${String(e.position)}' is not a log position`);
  if (!isEventType(e.type)) throw new PoisonEventError(`unknown event type '${String(e.type)}'`);
  let raised;
  try {
    raised = upcast({ type: e.type, schemaversion: Number(e.schemaversion), data: (e.data ?? {}) });
  } catch (err) {
    throw new PoisonEventError(err instanceof Error ? err.message : String(err));
  }
  const parsed = parseEventData(raised.type, raised.schemaversion, raised.data);
  if (!parsed.ok) throw new PoisonEventError(`invalid ${e.type}: ${parsed.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  const vt = tryNorm(e.validtime);
  const kt = tryNorm(e.knowntime);
  if (vt === null) throw new PoisonEventError(`validtime '${String(e.validtime)}' is not a date or date-time`);
  if (kt === null) throw new PoisonEventError(`knowntime '${String(e.knowntime)}' is not a date or date-time`);
  const { type, data } = parsed.value;
  const event = normaliseEvent(e, type, raised.schemaversion, data);
  const cat = categoryOf(type);
  const str = (k: string): string | null => (typeof data[k] === 'string' ? (data[k]) : null);
  if (type === 'RecordCorrected') {
    const changes = data['changes'] as Record<string, unknown>;
    if ('validtime' in changes && tryNorm(changes['validtime']) === null) throw new PoisonEventError('RecordCorrected changes.validtime is not a date or date-time');
  }
  return {
    eventId: e.id,
    position: BigInt(e.position),
    streamId: e.subject,
    type,
    cat,
    instrumentId: str('instrumentId'),
    jurisdiction: str('jurisdiction'),
    targetEventId: str('targetEventId'),
    vt,
    kt,
    event,
  };
}

export const FACT_COLUMNS = ['event_id', 'position', 'stream_id', 'type', 'cat', 'instrument_id', 'jurisdiction', 'target_event_id', 'vt', 'kt', 'doc'] as const;

export function factRow(f: Fact): unknown[] {
  return [f.eventId, f.position.toString(), f.streamId, f.type, f.cat, f.instrumentId, f.jurisdiction, f.targetEventId, f.vt, f.kt, JSON.stringify(f.event)];
}

export interface FactRow {
  event_id: string;
  position: string | number;
  stream_id: string;
  type: string;
  cat: string;
  instrument_id: string | null;
  jurisdiction: string | null;
  target_event_id: string | null;
  vt: string;
  kt: string;
  doc: string;
}

export function factFromRow(r: FactRow): Fact {
  return {
    eventId: r.event_id,
    position: BigInt(r.position),
    streamId: r.stream_id,
    type: r.type as EventType,
    cat: r.cat as FactCategory,
    instrumentId: r.instrument_id,
    jurisdiction: r.jurisdiction,
    targetEventId: r.target_event_id,
    vt: r.vt,
    kt: r.kt,
    event: parseJson<StoredEvent>(r.doc),
  };
}

/** Known-time order with the log position as tie-break (the domain's byKnownThenOrder). */
export function byKnown(a: Fact, b: Fact): number {
  return cmp(a.kt, b.kt) || (a.position < b.position ? -1 : a.position > b.position ? 1 : 0);
}

export const posCmp = (a: bigint, b: bigint): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A target with corrections applied in known order, as the domain's asKnownAt does. A correction that
 * would leave its target invalid is skipped, so one bad correction cannot poison a read model.
 */
export function applyCorrections(target: StoredEvent, corrections: readonly Fact[]): StoredEvent {
  let cur = target;
  for (const c of corrections) {
    if (c.event.type !== 'RecordCorrected') continue;
    const { validtime, ...changes } = c.event.data.changes;
    const nextValid = typeof validtime === 'string' ? validtime : cur.validtime;
    if (tryNorm(nextValid) === null) continue;
    const parsed = parseEventData(cur.type, cur.schemaversion, { ...(cur.data as Record<string, unknown>), ...changes });
    if (!parsed.ok) continue;
    cur = { ...cur, validtime: nextValid, data: parsed.value.data } as StoredEvent;
  }
  return cur;
}

/** The effective event as known at epoch `k`, or null when it is not known or retracted by then. */
export function effectiveAt(base: Fact, related: readonly Fact[], k: string): StoredEvent | null {
  if (base.kt > k) return null;
  const known = related.filter((r) => r.kt <= k);
  if (known.some((r) => r.cat === 'retraction')) return null;
  return applyCorrections(
    base.event,
    known.filter((r) => r.cat === 'correction').sort(byKnown),
  );
}

/** Distinct epochs (known times) at which the effective version of `base` may change. */
export function epochsOf(base: Fact, related: readonly Fact[]): string[] {
  const ks = new Set<string>([base.kt]);
  for (const r of related) if (r.kt > base.kt) ks.add(r.kt);
  return [...ks].sort(cmp);
}

export { norm };
