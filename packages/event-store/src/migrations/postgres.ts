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

/**
 * regstream_append again, same signature and same answers, as `LANGUAGE plpgsql`, and regstream_append_one,
 * the same for one event in scalar parameters.
 *
 * A `LANGUAGE sql` function that cannot be inlined (this one writes) has its body parsed and planned on
 * every call; PL/pgSQL keeps its statements' plans for the session. `plan_cache_mode = force_generic_plan`
 * because the plan cache otherwise keeps choosing a fresh custom plan for one-element arrays (it estimates
 * them cheaper than the generic plan), which is the planning this exists to avoid. Bare call, one client,
 * synchronous_commit off, p50: one event 0.90 → 0.46 ms; 100 events on one stream 4.3 → 3.7 ms; 100 events
 * on 100 streams 6.0 → 4.3 ms; 1,000 events on 1,000 streams 246 → 57 ms.
 *
 * The statement differs from the SQL function's in how each new event finds its stream's version: the old
 * one joined the events to the upserted streams and to the per-stream counts, and the planner, which cannot
 * estimate rows coming out of CTEs, ran both joins as nested loops (events × streams, twice: 390 of 418 ms
 * for 1,000 events on 1,000 streams). Here the upserted versions and the requests' expected versions are
 * each folded into one jsonb object, built once, and looked up per event; the count per stream comes from a
 * window over the same sort that numbers the events.
 *
 * One event (every single-event POST) takes regstream_append_one: the same steps as plain statements. For
 * one row, starting up and tearing down the statement's thirty-odd plan nodes costs more than the work
 * (0.22-0.25 ms against 0.27-0.45 ms, as above), and sixteen one-element arrays cost more to write and read
 * than sixteen values (16 concurrent callers through pg: 2,600 → 4,200 appends/s, raw INSERT 6,100/s).
 * regstream_append hands a one-event call to it, so both answer alike.
 *
 * The `regstream_outbox` wake-up for a LISTENing relay is deliberately not sent from here: a NOTIFY makes
 * its transaction take PostgreSQL's cluster-wide notify lock from pre-commit until after the commit record
 * is flushed, which lines every appending transaction up behind one fsync at a time (pgbench on this
 * machine, 16 clients, one-row transactions: 4,200-5,000 tps without NOTIFY, 900-1,900 with it). The store
 * sends it right after the commit instead (PostgresEventStore).
 */
export class EventStoreAppendPlpgsqlPostgres1764400000070 implements MigrationInterface {
  name = 'EventStoreAppendPlpgsqlPostgres1764400000070';

  async up(q: QueryRunner): Promise<void> {
    // `use_column`: the OUT parameters (event_id, stream_id, ...) share names with the tables' columns,
    // and inside the statements every such name means the column, as it did in the SQL function.
    await q.query(`
CREATE OR REPLACE FUNCTION regstream_append_one(
  p_expected text, p_id text, p_stream text, p_type text, p_schema int, p_source text, p_time text, p_valid text,
  p_known text, p_recorded text, p_citation jsonb, p_key text, p_corr text, p_cause text, p_data jsonb)
RETURNS TABLE (event_id text, stream_id text, stream_version int, global_position bigint, duplicate boolean)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
  k_pos bigint;
  k_stream text;
  k_version int;
  v int;
  pos bigint;
BEGIN
  IF p_key IS NULL THEN
    SELECT e.global_position, e.stream_id, e.stream_version INTO k_pos, k_stream, k_version FROM events e WHERE e.event_id = p_id;
  ELSE
    -- The earlier of the two, if the id and the key name different events.
    SELECT x.global_position, x.stream_id, x.stream_version INTO k_pos, k_stream, k_version FROM (
      (SELECT e.global_position, e.stream_id, e.stream_version FROM events e WHERE e.event_id = p_id)
      UNION ALL
      (SELECT e.global_position, e.stream_id, e.stream_version FROM events e
        WHERE e.idempotency_key IS NOT NULL AND e.idempotency_key = p_key)
    ) x ORDER BY x.global_position LIMIT 1;
  END IF;
  IF k_pos IS NOT NULL THEN
    RETURN QUERY SELECT p_id, k_stream, k_version, k_pos, true;
    RETURN;
  END IF;
  INSERT INTO streams AS s (stream_id, version) VALUES (p_stream, 1)
  ON CONFLICT (stream_id) DO UPDATE SET version = s.version + 1
  RETURNING s.version INTO v;
  -- The usual answers inline; anything else goes to the function, which decides and raises RS409.
  IF p_expected IS NOT NULL AND p_expected <> 'any' AND p_expected <> (v - 1)::text
     AND NOT (p_expected = 'no_stream' AND v = 1) AND NOT (p_expected = 'exists' AND v > 1) THEN
    PERFORM regstream_check_expected(p_stream, v - 1, p_expected);
  END IF;
  INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, source, time, valid_time, known_time,
                      recorded_time, citation, idempotency_key, correlation_id, causation_id, data)
  VALUES (p_id, p_stream, v, p_type, p_schema, p_source, p_time, p_valid, p_known, p_recorded, p_citation, p_key, p_corr, p_cause, p_data)
  RETURNING events.global_position INTO pos;
  INSERT INTO outbox (global_position) VALUES (pos);
  RETURN QUERY SELECT p_id, p_stream, v, pos, false;
END
$fn$;`);
    await q.query(`
CREATE OR REPLACE FUNCTION regstream_append(
  p_req_streams text[], p_req_expected text[],
  p_ids text[], p_streams text[], p_types text[], p_schema int[], p_sources text[], p_times text[],
  p_valid text[], p_known text[], p_recorded text, p_citations jsonb[], p_keys text[], p_corr text[],
  p_cause text[], p_data jsonb[])
RETURNS TABLE (event_id text, stream_id text, stream_version int, global_position bigint, duplicate boolean)
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
BEGIN
  IF cardinality(p_ids) = 1 THEN
    RETURN QUERY SELECT * FROM regstream_append_one(
      p_req_expected[array_position(p_req_streams, p_streams[1])], p_ids[1], p_streams[1], p_types[1], p_schema[1], p_sources[1],
      p_times[1], p_valid[1], p_known[1], p_recorded, p_citations[1], p_keys[1], p_corr[1], p_cause[1], p_data[1]);
    RETURN;
  END IF;

  RETURN QUERY
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
  ), bumped AS (
    -- Rows are locked in stream-id order, so concurrent batches on overlapping streams cannot deadlock.
    INSERT INTO streams AS s (stream_id, version)
    SELECT i.stream, count(*)::int FROM input i WHERE i.known_pos IS NULL GROUP BY i.stream ORDER BY i.stream
    ON CONFLICT (stream_id) DO UPDATE SET version = s.version + EXCLUDED.version
    RETURNING s.stream_id, s.version
  ), versions AS (
    SELECT jsonb_object_agg(b.stream_id, b.version) AS m FROM bumped b
  ), ins AS (
    INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, source, time, valid_time, known_time,
                        recorded_time, citation, idempotency_key, correlation_id, causation_id, data)
    SELECT f.id, f.stream, f.start + f.nth, f.type, f.schema, f.source, f.time, f.valid, f.known, p_recorded, f.citation, f.key, f.corr, f.cause, f.data
    FROM (
      -- The scalar subquery runs once (an InitPlan): joining the map instead would copy it into every
      -- row of the sort.
      SELECT i.*, (((SELECT v.m FROM versions v) ->> i.stream)::int - count(*) OVER w)::int AS start, (row_number() OVER w)::int AS nth
      FROM input i
      WHERE i.known_pos IS NULL
      WINDOW w AS (PARTITION BY i.stream ORDER BY i.ord ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    ) f
    -- Once per stream. A stream named twice in the request keeps its first expected version, as
    -- array_position did; a request array shorter than the streams' means no expectation, as before.
    WHERE CASE WHEN f.nth = 1 THEN regstream_check_expected(f.stream, f.start,
            (SELECT jsonb_object_agg(r.s, r.e ORDER BY r.n DESC)
             FROM unnest(p_req_streams, p_req_expected) WITH ORDINALITY AS r(s, e, n) WHERE r.s IS NOT NULL) ->> f.stream)
          ELSE true END
    ORDER BY f.ord
    RETURNING events.event_id, events.global_position, events.stream_version
  ), ob AS (
    INSERT INTO outbox (global_position) SELECT ins.global_position FROM ins
  )
  SELECT i.id, COALESCE(i.known_stream, i.stream), COALESCE(ins.stream_version, i.known_version),
         COALESCE(ins.global_position, i.known_pos), ins.event_id IS NULL
  FROM input i LEFT JOIN ins ON ins.event_id = i.id
  ORDER BY i.ord;
END
$fn$;`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The previous definition, verbatim: CREATE OR REPLACE may change the language and the SET clause
    // (it resets them), as long as the signature is the same.
    await new EventStoreAppendFunctionPostgres1764400000050().up(q);
    await q.query(`DROP FUNCTION IF EXISTS regstream_append_one`);
  }
}

/**
 * The outbox without its foreign key to events. The key's check runs once per outbox row, a query that
 * also locks the events row it finds (FOR KEY SHARE, one more WAL record per event): on a 100-event append
 * it was 1.9 of the call's 3.2 ms of server time (auto_explain with triggers). It guarded nothing the
 * writers do not already guarantee: outbox rows are only ever inserted by regstream_append and
 * regstream_append_one, from the events row inserted by the same statement, events are never deleted,
 * and the relay deletes outbox rows only.
 */
export class EventStoreOutboxWithoutForeignKeyPostgres1764400000080 implements MigrationInterface {
  name = 'EventStoreOutboxWithoutForeignKeyPostgres1764400000080';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox DROP CONSTRAINT IF EXISTS outbox_global_position_fkey`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE outbox ADD CONSTRAINT outbox_global_position_fkey FOREIGN KEY (global_position) REFERENCES events (global_position)`);
  }
}
