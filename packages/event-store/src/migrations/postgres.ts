import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The event log, stream versions, outbox and batch idempotency on PostgreSQL. */
export class EventStoreInitPostgres1764400000000 implements MigrationInterface {
  name = 'EventStoreInitPostgres1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE IF NOT EXISTS events (
        global_position bigserial PRIMARY KEY,
        transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id text NOT NULL,
        stream_id text NOT NULL,
        stream_version integer NOT NULL,
        type text NOT NULL,
        schema_version integer NOT NULL,
        source text NOT NULL,
        time text NOT NULL,
        valid_time text NOT NULL,
        known_time text NOT NULL,
        recorded_time text NOT NULL,
        citation jsonb,
        idempotency_key text,
        correlation_id text,
        causation_id text,
        data jsonb NOT NULL
      )`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id)`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS events_stream_version ON events (stream_id, stream_version)`);
    await q.query(`CREATE UNIQUE INDEX IF NOT EXISTS events_idempotency_key ON events (idempotency_key) WHERE idempotency_key IS NOT NULL`);
    await q.query(`CREATE INDEX IF NOT EXISTS events_commit_order ON events (transaction_id, global_position)`);
    await q.query(`CREATE TABLE IF NOT EXISTS streams (stream_id text PRIMARY KEY, version integer NOT NULL)`);
    await q.query(`CREATE TABLE IF NOT EXISTS outbox (global_position bigint PRIMARY KEY REFERENCES events (global_position))`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS idempotency_keys (
        key text PRIMARY KEY,
        request_hash text NOT NULL,
        response jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS idempotency_keys`);
    await q.query(`DROP TABLE IF EXISTS outbox`);
    await q.query(`DROP TABLE IF EXISTS streams`);
    await q.query(`DROP TABLE IF EXISTS events`);
  }
}
