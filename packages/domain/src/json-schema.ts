import { z } from 'zod';
import { EVENT_DATA_SCHEMAS, type EventType } from './events/catalogue';
import { NewEventInput } from './events/envelope';

/** JSON Schema of each event type's data, for the OpenAPI and AsyncAPI documents. */
export function eventDataJsonSchemas(): Record<EventType, unknown> {
  return Object.fromEntries(
    Object.entries(EVENT_DATA_SCHEMAS).map(([type, schema]) => [type, z.toJSONSchema(schema, { unrepresentable: 'any', io: 'input' })]),
  ) as Record<EventType, unknown>;
}

export function newEventJsonSchema(): unknown {
  return z.toJSONSchema(NewEventInput, { unrepresentable: 'any', io: 'input' });
}
