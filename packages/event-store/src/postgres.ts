import type { DataSource } from 'typeorm';
import { type EventRow, fromRow } from './rows';
import { type Sql, SqlEventStore, sqlOf } from './sql-store';
import { type AppendRequest, type AppendResult, type Checkpoint, ConcurrencyError, type ExpectedVersion, type OutboxBatch, type ReadAllFilter, type ReadAllResult } from './types';

/** Held by the single active relay, so events leave the outbox in position order. */
const RELAY_LOCK = 7347001;

export class PostgresEventStore extends SqlEventStore {
  readonly driver = 'postgres' as const;

  constructor(ds: DataSource) {
    super(ds);
  }

  protected ph(i: number): string {
    return `$${i}`;
  }

  protected json(v: unknown): unknown {
    return JSON.stringify(v);
  }

  protected async inTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.startTransaction();
      const out = await fn(sqlOf(qr));
      await qr.commitTransaction();
      return out;
    } catch (e) {
      if (qr.isTransactionActive) await qr.rollbackTransaction();
      throw e;
    } finally {
      await qr.release();
    }
  }

  protected override canAppendWithoutTransaction(): boolean {
    return true;
  }

  /** One call of regstream_append (migration EventStoreAppendFunctionPostgres): one round trip. */
  protected override async appendCore(sql: Sql, merged: readonly AppendRequest[], recorded: string): Promise<AppendResult> {
    const all = merged.flatMap((r) => r.events);
    const col = <T>(f: (e: (typeof all)[number]) => T) => all.map(f);
    const rows = await sql<{ event_id: string; stream_id: string; stream_version: number; global_position: string; duplicate: boolean }>(
      `SELECT * FROM regstream_append($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[],
                                      $9::text[], $10::text[], $11::text, $12::jsonb[], $13::text[], $14::text[], $15::text[], $16::jsonb[])`,
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
        col((e) => (e.citation === undefined ? null : JSON.stringify(e.citation))),
        col((e) => e.idempotencykey ?? null),
        col((e) => e.correlationid ?? null),
        col((e) => e.causationid ?? null),
        col((e) => JSON.stringify(e.data)),
      ],
    );
    const events = rows.map((r) => ({ id: r.event_id, streamId: r.stream_id, streamVersion: Number(r.stream_version), position: String(r.global_position), duplicate: r.duplicate }));
    return { events, replayed: false, written: events.filter((e) => !e.duplicate).length };
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
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    const sql = sqlOf(qr);
    let open = true;
    const finish = async (commit: boolean) => {
      if (!open) return;
      open = false;
      try {
        if (commit) await qr.commitTransaction();
        else if (qr.isTransactionActive) await qr.rollbackTransaction();
      } finally {
        await qr.release();
      }
    };
    try {
      await qr.startTransaction();
      const [lock] = await sql<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock($1) AS ok`, [RELAY_LOCK]);
      if (!lock?.ok) {
        await finish(false);
        return null;
      }
      const rows = await sql<EventRow>(
        `SELECT e.* FROM outbox o JOIN events e ON e.global_position = o.global_position
         ORDER BY o.global_position LIMIT $1 FOR UPDATE OF o`,
        [limit],
      );
      if (rows.length === 0) {
        await finish(false);
        return null;
      }
      const events = rows.map(fromRow);
      return {
        events,
        ack: async () => {
          await sql(`DELETE FROM outbox WHERE global_position = ANY($1::bigint[])`, [events.map((e) => e.position)]);
          await finish(true);
        },
        release: () => finish(false),
      };
    } catch (e) {
      await finish(false);
      throw e;
    }
  }
}
