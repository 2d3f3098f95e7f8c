import { api, type StoredEventJson } from './api.js';

/** Events by id, for naming what moved the index (read once from GET /v1/events, then kept). */
const cache = new Map<string, StoredEventJson>();
let loading: Promise<void> | null = null;

export function rememberEvent(e: StoredEventJson): void {
  cache.set(e.id, e);
}

export function eventById(id: string): StoredEventJson | undefined {
  return cache.get(id);
}

export function loadStanceEvents(): Promise<void> {
  loading ??= (async () => {
    let after: string | undefined;
    for (let page = 0; page < 50; page++) {
      const r = await api<{ events: StoredEventJson[]; next: string }>('/v1/events', { type: 'StanceCoded,RecordCorrected,RecordRetracted', limit: 1000, after });
      for (const e of r.events) rememberEvent(e);
      if (r.events.length === 0 || r.next === after) break;
      after = r.next;
    }
  })().catch(() => {
    loading = null;
  });
  return loading;
}
