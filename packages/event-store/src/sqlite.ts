import type { DataSource } from 'typeorm';
import { type EventRow, fromRow } from './rows';
import { type Sql, SqlEventStore, sqlOf } from './sql-store';
import type { Checkpoint, OutboxBatch, ReadAllFilter, ReadAllResult } from './types';

/** Serialises async work: SQLite has one connection, and transactions must not interleave on it. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}

export class SqliteEventStore extends SqlEventStore {
  readonly driver = 'sqlite' as const;
  private readonly lock = new Mutex();

  constructor(ds: DataSource) {
    super(ds);
    // Reads go through the same lock so they never see a half-applied transaction on the shared connection.
    const raw = this.sql;
    this.sql = <R>(s: string, p?: unknown[]) => this.lock.run(() => raw<R>(s, p));
  }

  protected ph(_i: number): string {
    return '?';
  }

  protected json(v: unknown): unknown {
    return JSON.stringify(v);
  }

  protected inTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      const qr = this.ds.createQueryRunner();
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
    });
  }

  protected async bumpStreams(sql: Sql, items: { streamId: string; n: number }[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const i of items) {
      const [row] = await sql<{ version: number }>(
        `INSERT INTO streams (stream_id, version) VALUES (?, ?)
         ON CONFLICT (stream_id) DO UPDATE SET version = version + excluded.version RETURNING version`,
        [i.streamId, i.n],
      );
      out.set(i.streamId, Number(row?.version ?? i.n));
    }
    return out;
  }

  protected async insertEvents(sql: Sql, rows: unknown[][]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const width = rows[0]?.length ?? 15;
    // SQLite caps bound parameters; 60 rows × 15 columns stays well inside it.
    for (let i = 0; i < rows.length; i += 60) {
      const chunk = rows.slice(i, i + 60);
      const values = chunk.map(() => `(${Array.from({ length: width }, () => '?').join(', ')})`).join(', ');
      const res = await sql<{ event_id: string; global_position: number }>(
        `INSERT INTO events (${SqlEventStore.INSERT_COLUMNS}) VALUES ${values} RETURNING event_id, global_position`,
        chunk.flat(),
      );
      for (const r of res) out.set(r.event_id, String(r.global_position));
    }
    return out;
  }

  async readAll(after: Checkpoint, limit: number, filter?: ReadAllFilter): Promise<ReadAllResult> {
    const f = this.filterSql(filter, 3);
    const rows = await this.sql<EventRow>(
      `SELECT * FROM events WHERE global_position > ?${f.where} ORDER BY global_position LIMIT ?`,
      [Number(after.pos), ...f.params, limit],
    );
    const last = rows[rows.length - 1];
    return { events: rows.map(fromRow), checkpoint: last ? { tx: String(last.global_position), pos: String(last.global_position) } : after };
  }

  claimOutbox(limit: number): Promise<OutboxBatch | null> {
    return this.lock.run(async () => {
      const rows = await this.ds.query<EventRow[]>(
        `SELECT e.* FROM outbox o JOIN events e ON e.global_position = o.global_position ORDER BY o.global_position LIMIT ?`,
        [limit],
      );
      if (rows.length === 0) return null;
      const events = rows.map(fromRow);
      let open = true;
      return {
        events,
        ack: async () => {
          if (!open) return;
          open = false;
          const ids = events.map((e) => Number(e.position));
          await this.sql(`DELETE FROM outbox WHERE global_position IN (${ids.map(() => '?').join(', ')})`, ids);
        },
        release: () => {
          open = false;
          return Promise.resolve();
        },
      };
    });
  }
}
