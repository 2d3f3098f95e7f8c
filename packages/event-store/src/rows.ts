import { type AnyEnvelope, type StoredEvent, upcast } from '@regstream/domain';

/** Column order shared by both SQL drivers. */
export const EVENT_COLUMNS = [
  'event_id',
  'stream_id',
  'stream_version',
  'type',
  'schema_version',
  'source',
  'time',
  'valid_time',
  'known_time',
  'recorded_time',
  'citation',
  'idempotency_key',
  'correlation_id',
  'causation_id',
  'data',
] as const;

export interface EventRow {
  global_position: string | number;
  transaction_id?: string | number;
  event_id: string;
  stream_id: string;
  stream_version: number | string;
  type: string;
  schema_version: number | string;
  source: string;
  time: string;
  valid_time: string;
  known_time: string;
  recorded_time: string;
  citation: unknown;
  idempotency_key: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  data: unknown;
}

export function toRowValues(e: AnyEnvelope, streamVersion: number, recorded: string, json: (v: unknown) => unknown): unknown[] {
  return [
    e.id,
    e.subject,
    streamVersion,
    e.type,
    e.schemaversion,
    e.source,
    e.time,
    e.validtime,
    e.knowntime,
    recorded,
    e.citation === undefined ? null : json(e.citation),
    e.idempotencykey ?? null,
    e.correlationid ?? null,
    e.causationid ?? null,
    json(e.data),
  ];
}

const parse = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

export function fromRow(r: EventRow): StoredEvent {
  const { type, schemaversion, data } = upcast({ type: r.type, schemaversion: Number(r.schema_version), data: parse(r.data) as Record<string, unknown> });
  const citation = r.citation === null || r.citation === undefined ? undefined : parse(r.citation);
  return {
    specversion: '1.0',
    id: r.event_id,
    source: r.source,
    type,
    schemaversion,
    subject: r.stream_id,
    time: r.time,
    datacontenttype: 'application/json',
    validtime: r.valid_time,
    knowntime: r.known_time,
    ...(citation !== undefined ? { citation } : {}),
    ...(r.idempotency_key ? { idempotencykey: r.idempotency_key } : {}),
    ...(r.correlation_id ? { correlationid: r.correlation_id } : {}),
    ...(r.causation_id ? { causationid: r.causation_id } : {}),
    data,
    recordedtime: r.recorded_time,
    streamversion: Number(r.stream_version),
    position: String(r.global_position),
  } as StoredEvent;
}

/** Drops repeated ids inside one request (first one wins) so a batch cannot collide with itself. */
export function uniqueById<T extends { id: string }>(events: readonly T[]): T[] {
  const seen = new Set<string>();
  return events.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
}
