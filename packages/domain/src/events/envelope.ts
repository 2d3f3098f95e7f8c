import { z } from 'zod';
import { CODEBOOKS } from '../codebook/v1';
import { checkStanceValue, dimensionById } from '../codebook/types';
import { compareInstants, IsoDateOrDateTime } from '../time';
import { Citation } from './common';
import { CURRENT_SCHEMA_VERSION, EVENT_DATA_SCHEMAS, type EventData, type EventType, isEventType } from './catalogue';

/**
 * The persisted envelope: CloudEvents 1.0 attributes plus regstream's bitemporal extensions.
 * Attribute names follow CloudEvents rules (lowercase) so the same names travel as `ce_*` Kafka headers.
 * This shape is frozen (ADR 0003): additions only, never renames.
 */
export interface EventEnvelope<T extends EventType = EventType> {
  readonly specversion: '1.0';
  readonly id: string;
  readonly source: string;
  readonly type: T;
  readonly schemaversion: number;
  /** The stream the event belongs to, e.g. `instrument-eu-ai-act`. */
  readonly subject: string;
  /** When the event record was produced. */
  readonly time: string;
  readonly datacontenttype: 'application/json';
  /** Valid time: when the thing happens or applies in the world (may be in the future). */
  readonly validtime: string;
  /** Known time: when the world could first know it (publication or announcement). */
  readonly knowntime: string;
  readonly citation?: Citation;
  readonly idempotencykey?: string;
  readonly correlationid?: string;
  readonly causationid?: string;
  readonly data: EventData<T>;
}

/** What the store adds to an envelope. */
export interface StoredMeta {
  /** regstream's own ingestion time, for audit. */
  readonly recordedtime: string;
  readonly streamversion: number;
  /** Global position in commit order, as a decimal string (bigint-safe). */
  readonly position: string;
}

/** An event as the store returns it; without a type argument, the union of every type (narrowable by `type`). */
export type StoredEvent<T extends EventType = EventType> = T extends EventType ? EventEnvelope<T> & StoredMeta : never;

export type AnyEnvelope = { [K in EventType]: EventEnvelope<K> }[EventType];

const StreamId = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'expected a stream id of letters, digits, dot, dash or underscore');

/** What a client sends to POST /v1/events; the server fills in the rest. */
export const NewEventInput = z.strictObject({
  type: z.string().min(1).max(100),
  schemaversion: z.number().int().min(1).max(1000).optional(),
  subject: StreamId,
  id: z.string().uuid().optional(),
  source: z.string().min(1).max(500).optional(),
  validtime: IsoDateOrDateTime,
  knowntime: IsoDateOrDateTime.optional(),
  citation: Citation.optional(),
  idempotencykey: z.string().min(1).max(200).optional(),
  correlationid: z.string().min(1).max(200).optional(),
  causationid: z.string().min(1).max(200).optional(),
  expectedVersion: z.union([z.number().int().min(0), z.enum(['any', 'no_stream', 'exists'])]).optional(),
  data: z.record(z.string(), z.unknown()),
});
export type NewEventInput = z.infer<typeof NewEventInput>;

export interface FieldIssue {
  readonly path: string;
  readonly message: string;
}

export type ParseResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: FieldIssue[] };

export interface EnvelopeContext {
  readonly now: Date;
  readonly newId: () => string;
  readonly defaultSource: string;
}

function pathOf(prefix: string, path: readonly PropertyKey[]): string {
  return [prefix, ...path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))]
    .filter((s) => s !== '')
    .join('.')
    .replace(/\.\[/g, '[');
}

export function zodIssues(prefix: string, error: z.ZodError): FieldIssue[] {
  return error.issues.map((i) => ({ path: pathOf(prefix, i.path), message: i.message }));
}

/** The stream an event must be written to, derived from its data, or null when any stream will do. */
export function expectedSubject(type: EventType, data: Record<string, unknown>): string | null {
  if (type === 'StanceCoded') return `stances-${String(data['jurisdiction']).toLowerCase()}`;
  if (type === 'CodebookPublished') return 'codebook';
  if (type === 'RecordCorrected' || type === 'RecordRetracted') return null;
  return `instrument-${String(data['instrumentId'])}`;
}

/** Cross-field rules that a schema alone cannot say. */
function semanticIssues(type: EventType, data: Record<string, unknown>, prefix: string): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (type === 'ApplicationPostponed' || type === 'ApplicationBroughtForward') {
    const prev = String(data['previousDate']);
    const next = String(data['newDate']);
    const diff = compareInstants(next, prev);
    if (type === 'ApplicationPostponed' && diff <= 0) {
      issues.push({ path: `${prefix}.newDate`, message: 'a postponement must move the date later than previousDate' });
    }
    if (type === 'ApplicationBroughtForward' && diff >= 0) {
      issues.push({ path: `${prefix}.newDate`, message: 'bringing forward must move the date earlier than previousDate' });
    }
  }
  if (type === 'StanceCoded') {
    const codebook = CODEBOOKS[String(data['codebookVersion'])];
    if (!codebook) {
      issues.push({ path: `${prefix}.codebookVersion`, message: `unknown codebook version ${String(data['codebookVersion'])}` });
    } else {
      const dim = dimensionById(codebook, String(data['dimension']));
      if (!dim) {
        issues.push({ path: `${prefix}.dimension`, message: `unknown dimension in codebook ${codebook.version}` });
      } else {
        const err = checkStanceValue(dim, data['value']);
        if (err) issues.push({ path: `${prefix}.value`, message: err });
      }
    }
  }
  return issues;
}

/** Validates one event's type, version and data; returns the parsed data. */
export function parseEventData(
  type: string,
  schemaversion: number,
  data: unknown,
  prefix = 'data',
): ParseResult<{ type: EventType; data: Record<string, unknown> }> {
  if (!isEventType(type)) {
    return { ok: false, issues: [{ path: prefix.replace(/data$/, 'type') || 'type', message: `unknown event type '${type}'` }] };
  }
  if (schemaversion !== CURRENT_SCHEMA_VERSION[type]) {
    return {
      ok: false,
      issues: [{ path: prefix.replace(/data$/, 'schemaversion'), message: `${type} is accepted at schema version ${CURRENT_SCHEMA_VERSION[type]}` }],
    };
  }
  const parsed = EVENT_DATA_SCHEMAS[type].safeParse(data);
  if (!parsed.success) return { ok: false, issues: zodIssues(prefix, parsed.error) };
  const value = parsed.data as Record<string, unknown>;
  const semantic = semanticIssues(type, value, prefix);
  return semantic.length > 0 ? { ok: false, issues: semantic } : { ok: true, value: { type, data: value } };
}

export interface ParsedNewEvent {
  readonly envelope: AnyEnvelope;
  readonly expectedVersion: NewEventInput['expectedVersion'];
}

/** Turns client input into a complete envelope, or lists every failing field path. */
export function parseNewEvent(input: unknown, ctx: EnvelopeContext, prefix = ''): ParseResult<ParsedNewEvent> {
  const p = (s: string) => (prefix ? `${prefix}.${s}` : s);
  const base = NewEventInput.safeParse(input);
  if (!base.success) return { ok: false, issues: zodIssues(prefix, base.error) };
  const e = base.data;
  const version = e.schemaversion ?? (isEventType(e.type) ? CURRENT_SCHEMA_VERSION[e.type] : 1);
  const parsed = parseEventData(e.type, version, e.data, p('data'));
  if (!parsed.ok) return parsed;
  const { type, data } = parsed.value;
  const subject = expectedSubject(type, data);
  if (subject !== null && subject !== e.subject) {
    return { ok: false, issues: [{ path: p('subject'), message: `${type} for this data belongs to stream '${subject}'` }] };
  }
  const nowIso = ctx.now.toISOString();
  const envelope = {
    specversion: '1.0',
    id: e.id ?? ctx.newId(),
    source: e.source ?? ctx.defaultSource,
    type,
    schemaversion: version,
    subject: e.subject,
    time: nowIso,
    datacontenttype: 'application/json',
    validtime: e.validtime,
    // Live ingestion: the world knows it when we are told, unless the client says otherwise.
    knowntime: e.knowntime ?? nowIso,
    ...(e.citation ? { citation: e.citation } : {}),
    ...(e.idempotencykey ? { idempotencykey: e.idempotencykey } : {}),
    ...(e.correlationid ? { correlationid: e.correlationid } : {}),
    ...(e.causationid ? { causationid: e.causationid } : {}),
    data,
  } as AnyEnvelope;
  return { ok: true, value: { envelope, expectedVersion: e.expectedVersion } };
}

/** CloudEvents `type` attribute used on the wire: reverse-DNS plus the schema version. */
export function cloudEventType(type: EventType, schemaversion: number): string {
  return `org.regstream.${type}.v${schemaversion}`;
}
