import type { Pool, PoolClient, QueryResultRow } from 'pg';
import type { DataSource } from 'typeorm';
import { EVENT_COLUMNS, type EventRow, fromRow } from './rows';
import { type Sql, SqlEventStore } from './sql-store';
import { type AppendOptions, type AppendRequest, type AppendResult, type Checkpoint, ConcurrencyError, type ExpectedVersion, type OutboxBatch, type ReadAllFilter, type ReadAllResult } from './types';

/**
 * Held by the relay that is moving the outbox, so that others back off instead of queueing on its
 * rows. Order does not rest on it: claims wait for rows held by others rather than pass them.
 */
const RELAY_LOCK = 7347001;

/** What a relay LISTENs on: a notification follows every append that put events in the outbox. */
export const OUTBOX_CHANNEL = 'regstream_outbox';

/** Least time between two outbox notifications from one store (see notifyOutbox). */
const NOTIFY_GAP_MS = 10;

/**
 * Citations and data travel as one JSON array each, split back into the function's jsonb[] by the
 * statement: as jsonb[] parameters every element's JSON would be escaped again into an array literal,
 * the largest single cost of writing a batch's parameters.
 */
const APPEND_SQL = `SELECT * FROM regstream_append($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[],
  $9::text[], $10::text[], $11::text,
  ARRAY(SELECT NULLIF(c.value, 'null'::jsonb) FROM jsonb_array_elements($12::jsonb) WITH ORDINALITY AS c(value, n) ORDER BY c.n),
  $13::text[], $14::text[], $15::text[],
  ARRAY(SELECT d.value FROM jsonb_array_elements($16::jsonb) WITH ORDINALITY AS d(value, n) ORDER BY d.n))`;

/** One event in scalar parameters: sixteen one-element arrays cost more to write and to read (migration 1764400000070). */
const APPEND_ONE_SQL = `SELECT * FROM regstream_append_one($1::text, $2::text, $3::text, $4::text, $5::int, $6::text, $7::text, $8::text,
                                      $9::text, $10::text, $11::jsonb, $12::text, $13::text, $14::text, $15::jsonb)`;

type AppendRow = { event_id: string; stream_id: string; stream_version: number; global_position: string; duplicate: boolean };

/**
 * TypeORM keeps the pg Pool of a PostgreSQL DataSource in `driver.master` (typed any). The store sends its
 * statements straight to it: a `DataSource.query` builds a QueryRunner, logs and broadcasts around every
 * call (a single append cost 1.48 ms through it against 1.03 ms from bare pg), and cannot name a
 * statement so that it stays prepared.
 */
function poolOf(ds: DataSource): Pool {
  const master = (ds.driver as unknown as { master?: Pool }).master;
  if (!master) throw new Error('the PostgreSQL DataSource is not initialised');
  return master;
}

function sqlOn(db: Pool | PoolClient): Sql {
  return async <R>(text: string, values: unknown[] = [], name?: string) => (await db.query<QueryResultRow>(name ? { name, text, values } : { text, values })).rows as R[];
}

/** Runs fn on one pooled connection; a connection left in an unknown state is closed, not reused. */
async function withClient<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  // The pool takes its own 'error' listener off a checked-out client: without one, a connection that
  // drops while checked out (PostgreSQL stopped, network cut) is an unhandled 'error' event that kills
  // the process. The failing query rejects anyway; the client is then released as broken.
  const onError = (e: Error) => {
    broken = e;
  };
  client.on('error', onError);
  try {
    return await fn(client);
  } catch (e) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackFailed) {
      broken = rollbackFailed instanceof Error ? rollbackFailed : new Error(String(rollbackFailed));
    }
    throw e;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

export class PostgresEventStore extends SqlEventStore {
  readonly driver = 'postgres' as const;

  /** See notifyOutbox: the one in flight, the one waiting for its turn, and whether another is owed. */
  private notifying: Promise<void> | null = null;
  private notifyTimer: NodeJS.Timeout | null = null;
  private notifyAgain = false;
  private lastNotifyAt = 0;

  constructor(ds: DataSource) {
    super(ds);
  }

  protected override sql: Sql = (text, params, name) => sqlOn(poolOf(this.ds))(text, params, name);

  protected ph(i: number): string {
    return `$${i}`;
  }

  protected json(v: unknown): unknown {
    return JSON.stringify(v);
  }

  protected async inTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return withClient(poolOf(this.ds), async (client) => {
      await client.query('BEGIN');
      const out = await fn(sqlOn(client));
      await client.query('COMMIT');
      return out;
    });
  }

  override async appendBatch(requests: readonly AppendRequest[], opts?: AppendOptions): Promise<AppendResult> {
    const result = await super.appendBatch(requests, opts);
    if (result.written > 0) this.notifyOutbox();
    return result;
  }

  /**
   * Tells a LISTENing relay that the outbox has new rows, after the commit. Sent from the append's own
   * transaction, the NOTIFY would hold PostgreSQL's cluster-wide notify lock through that transaction's
   * commit flush and serialise all appends (see migration EventStoreAppendPlpgsqlPostgres1764400000070);
   * in a statement of its own it writes nothing and waits for no flush. Every append is followed by a
   * notification that starts after its commit, but at most one per NOTIFY_GAP_MS: an awake relay drains
   * the whole outbox anyway, and a round trip per append is a large share of a single append's cost here.
   */
  private notifyOutbox(): void {
    if (this.notifying || this.notifyTimer) {
      this.notifyAgain = true;
      return;
    }
    const wait = this.lastNotifyAt + NOTIFY_GAP_MS - Date.now();
    if (wait > 0) {
      this.notifyTimer = setTimeout(() => {
        this.notifyTimer = null;
        this.sendNotification();
      }, wait);
      // A pending wake-up must not keep an otherwise finished process alive.
      this.notifyTimer.unref();
      return;
    }
    this.sendNotification();
  }

  private sendNotification(): void {
    this.notifyAgain = false;
    this.lastNotifyAt = Date.now();
    this.notifying = this.sql(`SELECT pg_notify('${OUTBOX_CHANNEL}', '')`, [], 'regstream_outbox_notify')
      // A wake-up is a hint: a lost one costs the relay its fallback poll interval, nothing else.
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => {
        this.notifying = null;
        if (this.notifyAgain) this.notifyOutbox();
      });
  }

  override async close(): Promise<void> {
    for (;;) {
      if (this.notifyTimer) {
        // Owed to appends already committed: send it now rather than drop it.
        clearTimeout(this.notifyTimer);
        this.notifyTimer = null;
        this.sendNotification();
      }
      if (!this.notifying) break;
      await this.notifying;
    }
    await super.close();
  }

  protected override canAppendWithoutTransaction(): boolean {
    return true;
  }

  /** One call of regstream_append or regstream_append_one (migrations 1764400000050, 1764400000070): one round trip. */
  protected override async appendCore(sql: Sql, merged: readonly AppendRequest[], recorded: string): Promise<AppendResult> {
    const rows = await this.callAppend(sql, merged, recorded);
    const events = rows.map((r) => ({ id: r.event_id, streamId: r.stream_id, streamVersion: Number(r.stream_version), position: String(r.global_position), duplicate: r.duplicate }));
    return { events, replayed: false, written: events.filter((e) => !e.duplicate).length };
  }

  private callAppend(sql: Sql, merged: readonly AppendRequest[], recorded: string): Promise<AppendRow[]> {
    const [only] = merged;
    const single = merged.length === 1 ? only?.events : undefined;
    if (only && single?.length === 1 && single[0]) {
      const e = single[0];
      return sql<AppendRow>(
        APPEND_ONE_SQL,
        [
          only.expectedVersion === undefined ? null : String(only.expectedVersion),
          e.id,
          e.subject,
          e.type,
          e.schemaversion,
          e.source,
          e.time,
          e.validtime,
          e.knowntime,
          recorded,
          e.citation === undefined ? null : JSON.stringify(e.citation),
          e.idempotencykey ?? null,
          e.correlationid ?? null,
          e.causationid ?? null,
          JSON.stringify(e.data),
        ],
        'regstream_append_one',
      );
    }
    const all = merged.flatMap((r) => r.events);
    const col = <T>(f: (e: (typeof all)[number]) => T) => all.map(f);
    return sql<AppendRow>(
      APPEND_SQL,
      [
        merged.map((r) => r.streamId),
        merged.map((r) => (r.expectedVersion === undefined ? null : String(r.expectedVersion))),
        col((e) => e.id),
        col((e) => e.subject),
        col((e) => e.type),
        col((e) => e.schemaversion),
        col((e) => e.source),
        col((e) => e.time),
        col((e) => e.validtime),
        col((e) => e.knowntime),
        recorded,
        JSON.stringify(col((e) => e.citation ?? null)),
        col((e) => e.idempotencykey ?? null),
        col((e) => e.correlationid ?? null),
        col((e) => e.causationid ?? null),
        JSON.stringify(col((e) => e.data)),
      ],
      'regstream_append_json',
    );
  }

  protected override translateError(e: unknown): unknown {
    const err = e as { code?: string; driverError?: { code?: string; detail?: string }; detail?: string };
    const code = err.code ?? err.driverError?.code;
    if (code !== 'RS409') return e;
    const d = JSON.parse(err.driverError?.detail ?? err.detail ?? '{}') as { stream?: string; actual?: number; expected?: string };
    const expected: ExpectedVersion = d.expected !== undefined && /^\d+$/.test(d.expected) ? Number(d.expected) : ((d.expected ?? 'any') as ExpectedVersion);
    return new ConcurrencyError(d.stream ?? '', expected, d.actual ?? -1);
  }

  protected async bumpStreams(sql: Sql, items: { streamId: string; n: number }[]): Promise<Map<string, number>> {
    const rows = await sql<{ stream_id: string; version: number }>(
      `INSERT INTO streams (stream_id, version)
       SELECT * FROM unnest($1::text[], $2::int[])
       ON CONFLICT (stream_id) DO UPDATE SET version = streams.version + EXCLUDED.version
       RETURNING stream_id, version`,
      [items.map((i) => i.streamId), items.map((i) => i.n)],
    );
    return new Map(rows.map((r) => [r.stream_id, Number(r.version)]));
  }

  protected async insertEvents(sql: Sql, rows: unknown[][]): Promise<Map<string, string>> {
    // unnest over column arrays: one statement, a fixed number of parameters, whatever the batch size.
    const col = (i: number) => rows.map((r) => r[i]);
    const out = await sql<{ event_id: string; global_position: string }>(
      `INSERT INTO events (${SqlEventStore.INSERT_COLUMNS})
       SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[], $8::text[],
                            $9::text[], $10::text[], $11::jsonb[], $12::text[], $13::text[], $14::text[], $15::jsonb[])
       RETURNING event_id, global_position`,
      Array.from({ length: 15 }, (_, i) => col(i)),
    );
    return new Map(out.map((r) => [r.event_id, String(r.global_position)]));
  }

  async readAll(after: Checkpoint, limit: number, filter?: ReadAllFilter): Promise<ReadAllResult> {
    const f = this.filterSql(filter, 4);
    // Only transactions below the xmin horizon are read: anything still in flight might commit with a
    // lower position, and reading past it would skip that event forever.
    const rows = await this.sql<EventRow & { tx: string }>(
      `SELECT e.*, e.transaction_id::text AS tx FROM events e
       WHERE (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
         AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())${f.where}
       ORDER BY e.transaction_id, e.global_position
       LIMIT $3`,
      [after.tx, after.pos, limit, ...f.params],
    );
    const last = rows[rows.length - 1];
    const checkpoint = last ? { tx: last.tx, pos: String(last.global_position) } : after;
    return { events: rows.map(fromRow), checkpoint };
  }

  async claimOutbox(limit: number): Promise<OutboxBatch | null> {
    const tx = await HeldTransaction.begin(poolOf(this.ds));
    try {
      const [lock] = await tx.sql<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock($1) AS ok`, [RELAY_LOCK], 'regstream_relay_lock');
      if (!lock?.ok) {
        await tx.end(false);
        return null;
      }
      const rows = await tx.sql<EventRow>(CLAIM_SQL, [limit], 'regstream_relay_claim_delete');
      if (rows.length === 0) {
        await tx.end(false);
        return null;
      }
      return this.claimed(tx, rows);
    } catch (e) {
      await tx.end(false);
      throw e;
    }
  }

  /**
   * The rows after `before` (see OutboxBatch.claimNext), claimed while `before` is still out. Like any
   * claim it waits for rows locked by someone else instead of passing them: a claim never takes a row
   * of a stream while an earlier row of that stream (a lower position) is still held by another
   * relay's transaction, which is what keeps each stream's order with overlapping claims. Only the
   * rows of `before`, which this relay publishes first, are left out, by position.
   */
  private async claimAfter(before: HeldTransaction, positions: readonly string[], limit: number): Promise<OutboxBatch | null> {
    if (!before.open) return null;
    const tx = await HeldTransaction.begin(poolOf(this.ds));
    try {
      const rows = await tx.sql<EventRow>(CLAIM_AFTER_SQL, [limit, positions[positions.length - 1], positions], 'regstream_relay_claim_after');
      if (rows.length === 0) {
        await tx.end(false);
        return null;
      }
      // Takes over the relay lock once `before` has ended, so other relays keep backing off instead
      // of queueing on these rows. Order does not depend on it (see above): a relay that took the
      // lock in between is no reason to give this batch up.
      before.onEnd(() => (tx.open ? tx.sql(`SELECT pg_try_advisory_xact_lock($1) AS ok`, [RELAY_LOCK], 'regstream_relay_lock') : Promise.resolve()));
      return this.claimed(tx, rows);
    } catch (e) {
      await tx.end(false);
      throw e;
    }
  }

  private claimed(tx: HeldTransaction, rows: EventRow[]): OutboxBatch {
    const events = rows.map(fromRow);
    const positions = events.map((e) => e.position);
    return {
      events,
      // The rows were deleted by the claim: committing after the broker's ack is what removes them.
      ack: () => tx.end(true),
      release: () => tx.end(false),
      claimNext: (limit) => this.claimAfter(tx, positions, limit),
    };
  }
}

/**
 * The claim deletes its rows in the same statement and returns their events: the delete is undone if
 * the transaction is (a failed publish, a crash), and committed only after the broker acknowledged
 * them. FOR UPDATE without SKIP LOCKED: rows held by another transaction are waited for, never passed.
 */
const CLAIM_COLUMNS = `e.global_position, ${EVENT_COLUMNS.map((c) => `e.${c}`).join(', ')}`;
const CLAIM_SQL = `WITH claimed AS (
    DELETE FROM outbox WHERE global_position = ANY(ARRAY(
      SELECT global_position FROM outbox ORDER BY global_position LIMIT $1 FOR UPDATE))
    RETURNING global_position)
  SELECT ${CLAIM_COLUMNS} FROM claimed c JOIN events e ON e.global_position = c.global_position ORDER BY e.global_position`;
/**
 * $2 and $3: the last position and all positions of the batch still out. Rows below its last position
 * that it does not hold committed after it was claimed and come next. NOT IN a subquery is hashed
 * whatever plan the prepared statement gets.
 */
const CLAIM_AFTER_SQL = `WITH claimed AS (
    DELETE FROM outbox WHERE global_position = ANY(ARRAY(
      SELECT o.global_position FROM outbox o
      WHERE o.global_position > $2::bigint OR o.global_position NOT IN (SELECT unnest($3::bigint[]))
      ORDER BY o.global_position LIMIT $1 FOR UPDATE))
    RETURNING global_position)
  SELECT ${CLAIM_COLUMNS} FROM claimed c JOIN events e ON e.global_position = c.global_position ORDER BY e.global_position`;

/**
 * A transaction on a pooled connection of its own, held across the Kafka send. A connection dropped
 * meanwhile must not be an unhandled 'error' event (see withClient); COMMIT then fails and the
 * claim is retried.
 */
class HeldTransaction {
  readonly sql: Sql;
  private lost: Error | undefined;
  private ending: Promise<void> | null = null;
  private committing = false;
  private readonly after: (() => Promise<unknown>)[] = [];
  private readonly onError = (e: Error) => {
    this.lost = e;
  };

  private constructor(private readonly client: PoolClient) {
    this.sql = sqlOn(client);
    client.on('error', this.onError);
  }

  static async begin(pool: Pool): Promise<HeldTransaction> {
    const tx = new HeldTransaction(await pool.connect());
    try {
      await tx.client.query('BEGIN');
    } catch (e) {
      await tx.end(false).catch(() => undefined);
      throw e;
    }
    return tx;
  }

  get open(): boolean {
    return this.ending === null;
  }

  /** Runs `fn` (best effort) once this transaction has ended, whichever way. */
  onEnd(fn: () => Promise<unknown>): void {
    if (this.ending) void this.ending.finally(() => fn().catch(() => undefined)).catch(() => undefined);
    else this.after.push(fn);
  }

  /** Commits or rolls back; the first call decides, later ones wait for it (a commit after a rollback fails). */
  end(commit: boolean): Promise<void> {
    if (this.ending) return commit && !this.committing ? Promise.reject(new Error('the outbox batch was already released')) : this.ending;
    this.committing = commit;
    this.ending = (async () => {
      let broken: Error | undefined = this.lost;
      try {
        await this.client.query(commit ? 'COMMIT' : 'ROLLBACK');
      } catch (e) {
        broken = e instanceof Error ? e : new Error(String(e));
        throw e;
      } finally {
        this.client.off('error', this.onError);
        this.client.release(broken ?? this.lost);
        for (const fn of this.after.splice(0)) void fn().catch(() => undefined);
      }
    })();
    return this.ending;
  }
}
