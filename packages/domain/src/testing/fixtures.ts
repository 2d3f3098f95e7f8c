import type { EventData, EventType } from '../events/catalogue';
import type { LogEvent } from '../bitemporal';

let counter = 0;

/** A complete envelope for tests; ids are sequential unless given. */
export function envelope<T extends EventType>(
  type: T,
  data: EventData<T>,
  at: { validtime: string; knowntime?: string; subject?: string; id?: string; order?: number },
): LogEvent {
  counter += 1;
  const subject =
    at.subject ??
    (type === 'StanceCoded'
      ? `stances-${String((data as { jurisdiction: string }).jurisdiction).toLowerCase()}`
      : type === 'CodebookPublished'
        ? 'codebook'
        : `instrument-${String((data as { instrumentId?: string }).instrumentId)}`);
  return {
    specversion: '1.0',
    id: at.id ?? `evt-${counter}`,
    source: 'test',
    type,
    schemaversion: 1,
    subject,
    time: '2026-01-01T00:00:00.000Z',
    datacontenttype: 'application/json',
    validtime: at.validtime,
    knowntime: at.knowntime ?? at.validtime,
    data,
    order: at.order ?? counter,
  } as LogEvent;
}
