import { cloudEventType, type EventType, type StoredEvent } from '@regstream/domain';
import type { IHeaders } from 'kafkajs';

/**
 * CloudEvents Kafka protocol binding, binary content mode: attributes travel as `ce_*` headers and
 * the body is the event data as JSON.
 */
export function toKafkaMessage(e: StoredEvent): { key: string; value: string; headers: Record<string, string> } {
  const headers: Record<string, string> = {
    ce_specversion: e.specversion,
    ce_id: e.id,
    ce_source: e.source,
    ce_type: cloudEventType(e.type, e.schemaversion),
    ce_subject: e.subject,
    ce_time: e.time,
    'content-type': e.datacontenttype,
    ce_validtime: e.validtime,
    ce_knowntime: e.knowntime,
    ce_recordedtime: e.recordedtime,
    ce_position: e.position,
    ce_streamversion: String(e.streamversion),
  };
  if (e.citation) headers['ce_citation'] = JSON.stringify(e.citation);
  if (e.idempotencykey) headers['ce_idempotencykey'] = e.idempotencykey;
  if (e.correlationid) headers['ce_correlationid'] = e.correlationid;
  if (e.causationid) headers['ce_causationid'] = e.causationid;
  return { key: e.subject, value: JSON.stringify(e.data), headers };
}

const header = (h: IHeaders | undefined, k: string): string | undefined => {
  const v = h?.[k];
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[0] : v;
  return one === undefined ? undefined : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
};

export class MalformedMessageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedMessageError';
  }
}

export function fromKafkaMessage(m: { value: Buffer | null; headers?: IHeaders }): StoredEvent {
  const h = m.headers;
  const ceType = header(h, 'ce_type') ?? '';
  const match = /^org\.regstream\.([A-Za-z]+)\.v(\d+)$/.exec(ceType);
  if (!match || m.value === null) throw new MalformedMessageError(`not a regstream CloudEvent: type '${ceType}'`);
  const citation = header(h, 'ce_citation');
  const opt = (k: string, name: string) => {
    const v = header(h, k);
    return v === undefined ? {} : { [name]: v };
  };
  return {
    specversion: '1.0',
    id: header(h, 'ce_id') ?? '',
    source: header(h, 'ce_source') ?? '',
    type: match[1] as EventType,
    schemaversion: Number(match[2]),
    subject: header(h, 'ce_subject') ?? '',
    time: header(h, 'ce_time') ?? '',
    datacontenttype: 'application/json',
    validtime: header(h, 'ce_validtime') ?? '',
    knowntime: header(h, 'ce_knowntime') ?? '',
    ...(citation ? { citation: JSON.parse(citation) as StoredEvent['citation'] } : {}),
    ...opt('ce_idempotencykey', 'idempotencykey'),
    ...opt('ce_correlationid', 'correlationid'),
    ...opt('ce_causationid', 'causationid'),
    data: JSON.parse(m.value.toString('utf8')) as StoredEvent['data'],
    recordedtime: header(h, 'ce_recordedtime') ?? '',
    streamversion: Number(header(h, 'ce_streamversion') ?? 0),
    position: header(h, 'ce_position') ?? '0',
  } as StoredEvent;
}
