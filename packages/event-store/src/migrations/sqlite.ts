import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The same log on SQLite. One writer at a time, so position order is commit order. */
export class EventStoreInitSqlite1764400000000 implements MigrationInterface {
  name = 'EventStoreInitSqlite1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS events (
        global_position INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL,
        stream_id TEXT NOT NULL,
        stream_version INTEGER NOT NULL,
        type TEXT NOT NULL,
        schema_version INTEGER NOT NULL,
        source TEXT NOT NULL,
        time TEXT NOT NULL,
        valid_time TEXT NOT NULL,
        known_time TEXT NOT NULL,
        recorded_time TEXT NOT NULL,
        citation TEXT,
        idempotency_key TEXT,
        correlation_id TEXT,
        causation_id TEXT,
        data TEXT NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id)`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS events_stream_version ON events (stream_id, stream_version)`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS events_idempotency_key ON events (idempotency_key) WHERE idempotency_key IS NOT NULL`);
    await q.query(`CREATE TABLE IF NOT EXISTS streams (stream_id TEXT PRIMARY KEY, version INTEGER NOT NULL)`);
    await q.query(`CREATE TABLE IF NOT EXISTS outbox (global_position INTEGER PRIMARY KEY REFERENCES events (global_position))`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS idempotency_keys (
        key TEXT PRIMARY KEY,
        request_hash TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS idempotency_keys`);
    await q.query(`DROP TABLE IF EXISTS outbox`);
    await q.query(`DROP TABLE IF EXISTS streams`);
    await q.query(`DROP TABLE IF EXISTS events`);
  }
}
