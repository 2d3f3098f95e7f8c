import type { AnyEnvelope, StoredEvent } from '@regstream/domain';
import type { DataSource, QueryRunner } from 'typeorm';
import { EVENT_COLUMNS, type EventRow, fromRow, toRowValues, uniqueById } from './rows';
import {
  type AppendedEvent,
  type AppendOptions,
  type AppendRequest,
  type AppendResult,
  type Checkpoint,
  checkExpected,
  type EventStore,
  type ExpectedVersion,
  type LocatedEvent,
  IdempotencyKeyReusedError,
  mergeRequests,
  type OutboxBatch,
  type ReadAllFilter,
  type ReadAllResult,
} from './types';

/**
 * Runs one statement. `name` marks a fixed statement of a hot path that PostgreSQL may keep prepared on
 * each connection (parsed once); drivers without prepared statements ignore it.
 */
export type Sql = <R = Record<string, unknown>>(sql: string, params?: unknown[], name?: string) => Promise<R[]>;

export function sqlOf(q: QueryRunner): Sql {
  return async <R>(sql: string, params: unknown[] = []) => (await q.query(sql, params, true)).records as R[];
}

/**
 * The append algorithm shared by the PostgreSQL and SQLite drivers; each dialect supplies the
 * statements that differ (stream version upsert, multi-row insert, commit-order reads, outbox claim).
 */
export abstract class SqlEventStore implements EventStore {
  abstract readonly driver: 'postgres' | 'sqlite';

  constructor(protected readonly ds: DataSource) {}

  protected abstract ph(i: number): string;
  protected abstract json(v: unknown): unknown;
  protected abstract inTransaction<T>(fn: (sql: Sql) => Promise<T>): Promise<T>;
  /** Adds n to each stream's version, creating missing streams; returns the new versions. Locks the rows. */
  protected abstract bumpStreams(sql: Sql, items: { streamId: string; n: number }[]): Promise<Map<string, number>>;
  /** Multi-row insert; returns event id → global position. */
  protected abstract insertEvents(sql: Sql, rows: unknown[][]): Promise<Map<string, string>>;
  abstract readAll(after: Checkpoint, limit: number, filter?: ReadAllFilter): Promise<ReadAllResult>;
  abstract claimOutbox(limit: number): Promise<OutboxBatch | null>;

  protected sql: Sql = async <R>(sql: string, params: unknown[] = []) => this.ds.query<R[]>(sql, params);

  append(streamId: string, events: readonly AnyEnvelope[], expectedVersion?: ExpectedVersion, opts?: AppendOptions): Promise<AppendResult> {
    return this.appendBatch([{ streamId, events, ...(expectedVersion !== undefined ? { expectedVersion } : {}) }], opts);
  }

  async appendBatch(requests: readonly AppendRequest[], opts: AppendOptions = {}): Promise<AppendResult> {
    const merged = mergeRequests(requests).map((r) => ({ ...r, events: uniqueById(r.events) }));
    const recorded = (opts.now ?? new Date()).toISOString();
    try {
      if (!opts.idempotencyKey && this.canAppendWithoutTransaction()) {
        // One statement is its own transaction: no BEGIN/COMMIT round trips on the hot path.
        return await this.appendCore(this.sql, merged, recorded);
      }
      return await this.inTransaction(async (sql) => {
        const replayed = await this.replay(sql, opts);
        if (replayed) return replayed;
        const result = await this.appendCore(sql, merged, recorded);
        if (opts.idempotencyKey) {
          await sql(
            `INSERT INTO idempotency_keys (key, request_hash, response, created_at) VALUES (${this.ph(1)}, ${this.ph(2)}, ${this.ph(3)}, ${this.ph(4)})`,
            [opts.idempotencyKey, opts.requestHash ?? '', this.json(result), recorded],
          );
        }
        return result;
      });
    } catch (e) {
      // Two identical requests racing on one idempotency key: the loser answers from the winner.
      if (opts.idempotencyKey && isUniqueViolation(e)) {
        const replay = await this.replay(this.sql, opts);
        if (replay) return replay;
      }
      throw this.translateError(e);
    }
  }

  /** True when `appendCore` is a single atomic statement. */
  protected canAppendWithoutTransaction(): boolean {
    return false;
  }

  /** Maps a driver error raised by the append (e.g. a version conflict from SQL) to a typed one. */
  protected translateError(e: unknown): unknown {
    return e;
  }

  findIdempotent(key: string, requestHash?: string): Promise<AppendResult | null> {
    return this.replay(this.sql, { idempotencyKey: key, ...(requestHash !== undefined ? { requestHash } : {}) });
  }

  private async replay(sql: Sql, opts: AppendOptions): Promise<AppendResult | null> {
    if (!opts.idempotencyKey) return null;
    const [row] = await sql<{ request_hash: string; response: unknown }>(
      `SELECT request_hash, response FROM idempotency_keys WHERE key = ${this.ph(1)}`,
      [opts.idempotencyKey],
    );
    if (!row) return null;
    if (opts.requestHash !== undefined && row.request_hash !== opts.requestHash) throw new IdempotencyKeyReusedError(opts.idempotencyKey);
    const stored = (typeof row.response === 'string' ? JSON.parse(row.response) : row.response) as AppendResult;
    return { ...stored, replayed: true, written: 0, events: stored.events.map((e) => ({ ...e, duplicate: true })) };
  }

  /** Dedupe, version check, multi-row insert and outbox, step by step (SQLite; PostgreSQL does it in one call). */
  protected async appendCore(sql: Sql, merged: readonly AppendRequest[], recorded: string): Promise<AppendResult> {
    const all = merged.flatMap((r) => r.events);
    const existing = await this.findExisting(sql, all);

    const fresh = merged
      .map((r) => ({ ...r, events: r.events.filter((e) => !existing.has(e.id) && !(e.idempotencykey && existing.has(`key:${e.idempotencykey}`))) }))
      .filter((r) => r.events.length > 0)
      // A fixed lock order keeps concurrent batches on overlapping streams from deadlocking.
      .sort((a, b) => (a.streamId < b.streamId ? -1 : a.streamId > b.streamId ? 1 : 0));

    const versions = fresh.length ? await this.bumpStreams(sql, fresh.map((r) => ({ streamId: r.streamId, n: r.events.length }))) : new Map<string, number>();
    const rows: unknown[][] = [];
    const newVersion = new Map<string, number>();
    for (const r of fresh) {
      const end = versions.get(r.streamId) ?? r.events.length;
      const start = end - r.events.length;
      checkExpected(r.streamId, r.expectedVersion, start);
      r.events.forEach((e, i) => {
        rows.push(toRowValues(e, start + i + 1, recorded, (v) => this.json(v)));
        newVersion.set(e.id, start + i + 1);
      });
    }
    const positions = rows.length ? await this.insertEvents(sql, rows) : new Map<string, string>();
    if (positions.size) {
      const list = [...positions.values()];
      await sql(`INSERT INTO outbox (global_position) VALUES ${list.map((_, i) => `(${this.ph(i + 1)})`).join(', ')}`, list);
    }

    const events: AppendedEvent[] = all.map((e) => {
      const pos = positions.get(e.id);
      if (pos !== undefined) return { id: e.id, streamId: e.subject, streamVersion: newVersion.get(e.id) ?? 0, position: pos, duplicate: false };
      const prior = existing.get(e.id) ?? existing.get(`key:${e.idempotencykey ?? ''}`);
      return { id: prior?.id ?? e.id, streamId: prior?.streamId ?? e.subject, streamVersion: prior?.streamVersion ?? 0, position: prior?.position ?? '0', duplicate: true };
    });
    return { events, replayed: false, written: rows.length };
  }

  private async findExisting(sql: Sql, events: readonly AnyEnvelope[]): Promise<Map<string, AppendedEvent>> {
    const out = new Map<string, AppendedEvent>();
    if (events.length === 0) return out;
    const ids = events.map((e) => e.id);
    const keys = events.map((e) => e.idempotencykey).filter((k): k is string => k !== undefined);
    const CHUNK = 500;
    for (let i = 0; i < Math.max(ids.length, keys.length); i += CHUNK) {
      const idPart = ids.slice(i, i + CHUNK);
      const keyPart = keys.slice(i, i + CHUNK);
      const params = [...idPart, ...keyPart];
      const idList = idPart.map((_, j) => this.ph(j + 1)).join(', ') || 'NULL';
      const keyList = keyPart.map((_, j) => this.ph(idPart.length + j + 1)).join(', ') || 'NULL';
      const rows = await sql<{ event_id: string; stream_id: string; stream_version: number; global_position: string | number; idempotency_key: string | null }>(
        `SELECT event_id, stream_id, stream_version, global_position, idempotency_key FROM events WHERE event_id IN (${idList})
         UNION ALL
         SELECT event_id, stream_id, stream_version, global_position, idempotency_key FROM events
         WHERE idempotency_key IS NOT NULL AND idempotency_key IN (${keyList})`,
        params,
      );
      for (const r of rows) {
        const a: AppendedEvent = { id: r.event_id, streamId: r.stream_id, streamVersion: Number(r.stream_version), position: String(r.global_position), duplicate: true };
        out.set(r.event_id, a);
        if (r.idempotency_key) out.set(`key:${r.idempotency_key}`, a);
      }
    }
    return out;
  }

  async readStream(streamId: string, fromVersion = 1): Promise<StoredEvent[]> {
    const rows = await this.sql<EventRow>(
      `SELECT * FROM events WHERE stream_id = ${this.ph(1)} AND stream_version >= ${this.ph(2)} ORDER BY stream_version`,
      [streamId, fromVersion],
    );
    return rows.map(fromRow);
  }

  async readStreams(streamIds: readonly string[]): Promise<Map<string, StoredEvent[]>> {
    const out = new Map<string, StoredEvent[]>(streamIds.map((s) => [s, []]));
    const ids = [...new Set(streamIds)];
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const rows = await this.sql<EventRow>(
        `SELECT * FROM events WHERE stream_id IN (${part.map((_, j) => this.ph(j + 1)).join(', ')}) ORDER BY stream_id, stream_version`,
        part,
      );
      for (const r of rows) out.get(r.stream_id)?.push(fromRow(r));
    }
    return out;
  }

  async locate(ids: readonly string[], idempotencyKeys: readonly string[] = []): Promise<LocatedEvent[]> {
    const out = new Map<string, LocatedEvent>();
    const lookups: [string, string[]][] = [
      ['event_id', [...new Set(ids)]],
      ['idempotency_key', [...new Set(idempotencyKeys)]],
    ];
    for (const [column, values] of lookups) {
      for (let i = 0; i < values.length; i += 500) {
        const part = values.slice(i, i + 500);
        const rows = await this.sql<{ event_id: string; stream_id: string; stream_version: number | string; idempotency_key: string | null }>(
          `SELECT event_id, stream_id, stream_version, idempotency_key FROM events WHERE ${column} IN (${part.map((_, j) => this.ph(j + 1)).join(', ')})`,
          part,
        );
        for (const r of rows) out.set(r.event_id, { id: r.event_id, streamId: r.stream_id, streamVersion: Number(r.stream_version), idempotencyKey: r.idempotency_key ?? null });
      }
    }
    return [...out.values()];
  }

  async streamVersion(streamId: string): Promise<number> {
    const [row] = await this.sql<{ version: number }>(`SELECT version FROM streams WHERE stream_id = ${this.ph(1)}`, [streamId]);
    return row ? Number(row.version) : 0;
  }

  async outboxSize(): Promise<number> {
    const [row] = await this.sql<{ n: number | string }>(`SELECT count(*) AS n FROM outbox`);
    return Number(row?.n ?? 0);
  }

  async count(): Promise<number> {
    const [row] = await this.sql<{ n: number | string }>(`SELECT count(*) AS n FROM events`);
    return Number(row?.n ?? 0);
  }

  async ping(): Promise<void> {
    await this.sql(`SELECT 1`);
  }

  async close(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }

  protected filterSql(filter: ReadAllFilter | undefined, firstParam: number): { where: string; params: unknown[] } {
    const parts: string[] = [];
    const params: unknown[] = [];
    if (filter?.streamId !== undefined) {
      params.push(filter.streamId);
      parts.push(`stream_id = ${this.ph(firstParam + params.length - 1)}`);
    }
    if (filter?.types?.length) {
      const start = firstParam + params.length;
      params.push(...filter.types);
      parts.push(`type IN (${filter.types.map((_, i) => this.ph(start + i)).join(', ')})`);
    }
    return { where: parts.length ? ` AND ${parts.join(' AND ')}` : '', params };
  }

  protected static readonly INSERT_COLUMNS = EVENT_COLUMNS.join(', ');
}

export function isUniqueViolation(e: unknown): boolean {
  const err = e as { code?: string; driverError?: { code?: string } } | null;
  const code = err?.code ?? err?.driverError?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}
