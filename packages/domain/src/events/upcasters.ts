import { CURRENT_SCHEMA_VERSION, isEventType } from './catalogue';

/** Raises one version of an event's data to the next. Pure. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;
/** type → fromVersion → upcaster to fromVersion + 1. */
export type UpcasterRegistry = Readonly<Record<string, Readonly<Record<number, Upcaster>>>>;

/** No type has changed shape since launch; new entries go here when one does (ADR 0003). */
export const UPCASTERS: UpcasterRegistry = {};

export interface RawEvent {
  readonly type: string;
  readonly schemaversion: number;
  readonly data: Record<string, unknown>;
}

export class UnknownSchemaVersionError extends Error {
  constructor(type: string, version: number) {
    super(`no upcaster from ${type} v${version}`);
    this.name = 'UnknownSchemaVersionError';
  }
}

/** Reads any stored version and returns the current shape. */
export function upcast(
  raw: RawEvent,
  registry: UpcasterRegistry = UPCASTERS,
  current: Readonly<Record<string, number>> = CURRENT_SCHEMA_VERSION,
): RawEvent {
  const target = current[raw.type] ?? (isEventType(raw.type) ? CURRENT_SCHEMA_VERSION[raw.type] : raw.schemaversion);
  let { schemaversion, data } = raw;
  while (schemaversion < target) {
    const step = registry[raw.type]?.[schemaversion];
    if (!step) throw new UnknownSchemaVersionError(raw.type, schemaversion);
    data = step(data);
    schemaversion += 1;
  }
  return { type: raw.type, schemaversion, data };
}
