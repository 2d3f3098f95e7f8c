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

/**
 * The whole append as one function, so a single-event append is one round trip and its own transaction:
 * de-duplicate by event id and idempotency key, bump stream versions in a fixed lock order, check the
 * expected versions (SQLSTATE RS409 on a conflict), insert events and outbox rows.
 */
export class EventStoreAppendFunctionPostgres1764400000050 implements MigrationInterface {
  name = 'EventStoreAppendFunctionPostgres1764400000050';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
CREATE OR REPLACE FUNCTION regstream_check_expected(p_stream text, p_start int, p_expected text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF p_expected IS NULL OR p_expected = 'any' OR (p_expected = 'no_stream' AND p_start = 0)
     OR (p_expected = 'exists' AND p_start > 0) OR (p_expected ~ '^[0-9]+$' AND p_start = p_expected::int) THEN
    RETURN true;
  END IF;
  RAISE EXCEPTION 'stream % is at version %, expected %', p_stream, p_start, p_expected
    USING ERRCODE = 'RS409', DETAIL = json_build_object('stream', p_stream, 'actual', p_start, 'expected', p_expected)::text;
END
$fn$;`);
    // One statement with data-modifying CTEs: no temporary tables, one round trip, its own transaction.
    await q.query(`
CREATE OR REPLACE FUNCTION regstream_append(
  p_req_streams text[], p_req_expected text[],
  p_ids text[], p_streams text[], p_types text[], p_schema int[], p_sources text[], p_times text[],
  p_valid text[], p_known text[], p_recorded text, p_citations jsonb[], p_keys text[], p_corr text[],
  p_cause text[], p_data jsonb[])
RETURNS TABLE (event_id text, stream_id text, stream_version int, global_position bigint, duplicate boolean)
LANGUAGE sql AS $fn$
WITH input AS (
  SELECT t.*, k.global_position AS known_pos, k.stream_id AS known_stream, k.stream_version AS known_version
  FROM unnest(p_ids, p_streams, p_types, p_schema, p_sources, p_times, p_valid, p_known, p_citations, p_keys, p_corr, p_cause, p_data)
       WITH ORDINALITY AS t(id, stream, type, schema, source, time, valid, known, citation, key, corr, cause, data, ord)
  -- Two index lookups: the key index is partial, so one OR condition would scan the table.
  LEFT JOIN LATERAL (
    SELECT x.global_position, x.stream_id, x.stream_version FROM (
      (SELECT e.global_position, e.stream_id, e.stream_version FROM events e WHERE e.event_id = t.id)
      UNION ALL
      (SELECT e.global_position, e.stream_id, e.stream_version FROM events e
        WHERE t.key IS NOT NULL AND e.idempotency_key IS NOT NULL AND e.idempotency_key = t.key)
    ) x ORDER BY x.global_position LIMIT 1
  ) k ON true
), counts AS (
  SELECT i.stream, count(*)::int AS n FROM input i WHERE i.known_pos IS NULL GROUP BY i.stream
), bumped AS (
  -- Rows are locked in stream-id order, so concurrent batches on overlapping streams cannot deadlock.
  INSERT INTO streams AS s (stream_id, version)
  SELECT c.stream, c.n FROM counts c ORDER BY c.stream
  ON CONFLICT (stream_id) DO UPDATE SET version = s.version + EXCLUDED.version
  RETURNING s.stream_id, s.version
), starts AS (
  SELECT b.stream_id, b.version - c.n AS start,
         regstream_check_expected(b.stream_id, b.version - c.n, p_req_expected[array_position(p_req_streams, b.stream_id)]) AS ok
  FROM bumped b JOIN counts c ON c.stream = b.stream_id
), ins AS (
  INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, source, time, valid_time, known_time,
                      recorded_time, citation, idempotency_key, correlation_id, causation_id, data)
  SELECT i.id, i.stream, (st.start + row_number() OVER (PARTITION BY i.stream ORDER BY i.ord))::int,
         i.type, i.schema, i.source, i.time, i.valid, i.known, p_recorded, i.citation, i.key, i.corr, i.cause, i.data
  FROM input i JOIN starts st ON st.stream_id = i.stream AND st.ok
  WHERE i.known_pos IS NULL
  ORDER BY i.ord
  RETURNING events.event_id, events.global_position, events.stream_version
), ob AS (
  INSERT INTO outbox (global_position) SELECT ins.global_position FROM ins
)
SELECT i.id, COALESCE(i.known_stream, i.stream), COALESCE(ins.stream_version, i.known_version),
       COALESCE(ins.global_position, i.known_pos), ins.event_id IS NULL
FROM input i LEFT JOIN ins ON ins.event_id = i.id
ORDER BY i.ord
$fn$;`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION IF EXISTS regstream_append`);
    await q.query(`DROP FUNCTION IF EXISTS regstream_check_expected`);
  }
}
