import { type Checkpoint, decodeCheckpoint, type EventStore, START } from '@regstream/event-store';
import type { DataSource } from 'typeorm';

/*
 * Where to start tailing the log. The EventStore interface has no "tail" or "checkpoint of a
 * position" yet, so these two read the store's events table directly (see the README: candidates for
 * the event-store package).
 */

/** The checkpoint just after the newest event a reader may see now. */
export async function tailCheckpoint(store: EventStore, ds: DataSource): Promise<Checkpoint> {
  if (store.driver === 'postgres') {
    const rows = await ds.query<{ tx: string; pos: string }[]>(
      `SELECT transaction_id::text AS tx, global_position::text AS pos FROM events
       WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    return rows[0] ?? START;
  }
  if (store.driver === 'sqlite') {
    const rows = await ds.query<{ pos: number | null }[]>(`SELECT max(global_position) AS pos FROM events`);
    const pos = rows[0]?.pos;
    return pos === null || pos === undefined ? START : { tx: String(pos), pos: String(pos) };
  }
  let cp = START;
  for (;;) {
    const page = await store.readAll(cp, 5000);
    if (page.events.length === 0) return cp;
    cp = page.checkpoint;
  }
}

/**
 * The checkpoint at an SSE event id: a log position (or an opaque `tx-pos` checkpoint). Null when it
 * names no event of the log.
 */
export async function checkpointAt(store: EventStore, ds: DataSource, id: string): Promise<Checkpoint | null> {
  const decoded = decodeCheckpoint(id);
  if (decoded) return decoded;
  if (!/^\d{1,19}$/.test(id)) return null;
  if (store.driver === 'postgres') {
    const rows = await ds.query<{ tx: string }[]>(`SELECT transaction_id::text AS tx FROM events WHERE global_position = $1`, [id]);
    return rows[0] ? { tx: rows[0].tx, pos: id } : null;
  }
  return { tx: id, pos: id };
}
