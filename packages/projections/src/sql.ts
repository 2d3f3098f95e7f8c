import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { type ColumnType, columnTypesOf } from './schema';

export type Dialect = 'postgres' | 'sqlite';

/** Reads; SQL is written with `?` placeholders and numbered for PostgreSQL. */
export interface Reader {
  readonly dialect: Dialect;
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
}

/**
 * One unit of work. Reads run at once; writes are buffered and run at the end, in order, in one
 * transaction. Code in a unit therefore never reads its own writes, on either dialect.
 */
/** A read for `Unit.queryMany`: a statement, or advisory locks taken as `Unit.lockAll` takes them. */
export type ManyRead = { readonly sql: string; readonly params?: readonly unknown[] } | { readonly locks: readonly string[] };

export interface Unit extends Reader {
  /**
   * Several reads in one round trip on PostgreSQL (one multi-statement query), one after another on
   * SQLite; the rows of each, in order (none for locks). For reads a transaction needs together at its
   * start: each round trip on a busy machine costs a wake-up of the server and of this process.
   */
  queryMany(reads: readonly ManyRead[]): Promise<Record<string, unknown>[][]>;
  write(sql: string, params?: readonly unknown[]): void;
  /** Multi-row INSERT, chunked under the dialect's bound-parameter limit. */
  insertRows(table: string, columns: readonly string[], rows: readonly (readonly unknown[])[], onConflict?: string): void;
  /** Serialises units that take the same key: a transaction-scoped advisory lock on PostgreSQL; SQLite units are serial anyway. */
  lock(key: string): Promise<void>;
  /** Several locks in one round trip, taken in a fixed order (so two units never wait on each other in a cycle). */
  lockAll(keys: readonly string[]): Promise<void>;
  /** `FOR SHARE` / `FOR UPDATE` suffix, empty on SQLite. */
  readonly forShare: string;
  readonly forUpdate: string;
}

/** The bits of a better-sqlite3 connection used for the synchronous commit. */
interface RawStatement {
  run(...params: unknown[]): unknown;
}
interface RawSqlite {
  prepare(sql: string): RawStatement;
  readonly inTransaction: boolean;
  exec(sql: string): unknown;
}

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

const sqliteLocks = new WeakMap<DataSource, Mutex>();
const statementCaches = new WeakMap<object, Map<string, RawStatement>>();

export function dialectOf(ds: DataSource): Dialect {
  const t = ds.options.type;
  if (t === 'postgres') return 'postgres';
  if (t === 'better-sqlite3') return 'sqlite';
  throw new Error(`read models support PostgreSQL and SQLite, not ${String(t)}`);
}

export function numberPlaceholders(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

function sqliteParam(v: unknown): unknown {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v;
}

/** 63-bit advisory lock key from a name. */
export function lockKey(name: string): string {
  const h = createHash('sha1').update(name).digest();
  return (h.readBigInt64BE(0) & 0x3fffffffffffffffn).toString();
}

export interface Write {
  readonly sql: string;
  readonly params: readonly unknown[];
}

const MAX_PARAMS: Record<Dialect, number> = { postgres: 60000, sqlite: 30000 };
/**
 * `column IN (...)` for a list of values: one array parameter on PostgreSQL, chunks of bound
 * parameters on SQLite. Each part is run as its own statement.
 */
export function inList(dialect: Dialect, column: string, values: readonly string[]): { sql: string; params: unknown[] }[] {
  const unique = [...new Set(values)];
  if (unique.length === 0) return [];
  if (dialect === 'postgres') return [{ sql: `${column} = ANY(?::text[])`, params: [unique] }];
  const out: { sql: string; params: unknown[] }[] = [];
  for (let i = 0; i < unique.length; i += 500) {
    const c = unique.slice(i, i + 500);
    out.push({ sql: `${column} IN (${c.map(() => '?').join(', ')})`, params: c });
  }
  return out;
}
/**
 * A parameter's text as node-postgres sends it (every bound parameter goes as text of unknown type,
 * typed by PostgreSQL from its context): strings as they are, numbers and booleans as their text,
 * arrays as array literals, other objects as JSON.
 */
function paramText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return arrayText(v);
  return JSON.stringify(v);
}

function arrayText(a: readonly unknown[]): string {
  const items = a.map((x) => {
    if (x === null || x === undefined) return 'NULL';
    if (Array.isArray(x)) return arrayText(x);
    return `"${(paramText(x) ?? '').replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  });
  return `{${items.join(',')}}`;
}

/**
 * A parameter as a literal of unknown type, for writes sent together as one simple-protocol query:
 * PostgreSQL types it from its context exactly as it types the bound parameter. The script sets
 * standard_conforming_strings (see `SCRIPT_PREAMBLE`), so backslashes are plain characters and only
 * quotes are doubled.
 */
export function pgLiteral(v: unknown): string {
  const text = paramText(v);
  if (text === null) return 'NULL';
  return `'${text.includes("'") ? text.replace(/'/g, "''") : text}'`;
}

/** Makes `pgLiteral`'s quoting hold whatever the server or session default is. */
export const SCRIPT_PREAMBLE = 'SET LOCAL standard_conforming_strings = on';

/** A statement with its `?` placeholders replaced by literals. */
export function inlineParams(sql: string, params: readonly unknown[]): string {
  let i = 0;
  const out = sql.replace(/\?/g, () => {
    if (i >= params.length) throw new RangeError(`more placeholders than parameters in: ${sql.slice(0, 120)}`);
    return pgLiteral(params[i++]);
  });
  if (i !== params.length) throw new RangeError(`${params.length} parameters for ${i} placeholders in: ${sql.slice(0, 120)}`);
  return out;
}

/** Characters of inlined statements sent per round trip. */
const MAX_SCRIPT = 4_000_000;

const MAX_ROWS = 1000;
/** Rows per JSON insert on PostgreSQL (one parameter whatever the count; bounded to keep strings small). */
const MAX_JSON_ROWS = 5000;
const PG_CAST: Record<ColumnType, string> = { text: 'text', int: 'bigint', real: 'float8' };

function retryable(e: unknown): boolean {
  const code = (e as { code?: string; driverError?: { code?: string } } | null)?.code ?? (e as { driverError?: { code?: string } } | null)?.driverError?.code;
  return code === '40P01' || code === '40001';
}

/** The bits of `pg` used by a unit (TypeORM's PostgreSQL driver keeps its pool as `driver.master`). */
interface PgResult {
  readonly rows?: Record<string, unknown>[];
}
interface PgClient {
  query(text: string): Promise<PgResult | PgResult[]>;
  release(destroy?: boolean): void;
  on(event: 'error', listener: (e: Error) => void): unknown;
  off(event: 'error', listener: (e: Error) => void): unknown;
}
interface PgPool {
  connect(): Promise<PgClient>;
}

export class SqlDb {
  readonly dialect: Dialect;

  constructor(readonly ds: DataSource) {
    this.dialect = dialectOf(ds);
  }

  /** A single read statement outside any unit. */
  async query<R = Record<string, unknown>>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    if (this.dialect === 'postgres') return this.ds.query<R[]>(numberPlaceholders(sql), [...params]);
    return this.ds.query<R[]>(sql, params.map(sqliteParam));
  }

  /** Several reads from one snapshot (REPEATABLE READ on PostgreSQL). */
  async read<T>(fn: (r: Reader) => Promise<T>): Promise<T> {
    if (this.dialect === 'sqlite') return fn(this);
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    try {
      await qr.query('START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const out = await fn({ dialect: 'postgres', query: async <R>(sql: string, params: readonly unknown[] = []) => (await qr.query(numberPlaceholders(sql), [...params])) as R[] });
      await qr.query('COMMIT');
      return out;
    } catch (e) {
      await qr.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      await qr.release();
    }
  }

  /**
   * Records the writes of a function that only writes (no reads), to run later in a unit: lets a
   * caller prepare the next batch's statements while the previous one is being written.
   */
  record(fn: (u: Unit) => void): readonly Write[] {
    const writes: Write[] = [];
    fn(
      this.makeUnit(
        () => Promise.reject(new Error('a recorded unit cannot read')),
        writes,
        () => Promise.resolve(),
      ),
    );
    return writes;
  }

  /** Runs a unit of work; retried on deadlock or serialisation failure (PostgreSQL). */
  async unit<T>(fn: (u: Unit) => Promise<T>): Promise<T> {
    if (this.dialect === 'sqlite') {
      let lock = sqliteLocks.get(this.ds);
      if (!lock) {
        lock = new Mutex();
        sqliteLocks.set(this.ds, lock);
      }
      return lock.run(() => this.sqliteUnit(fn));
    }
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.postgresUnit(fn);
      } catch (e) {
        if (!retryable(e) || attempt >= 5) throw e;
        await new Promise((r) => setTimeout(r, 20 * (attempt + 1) + Math.random() * 50));
      }
    }
  }

  private makeUnit(
    read: Reader['query'],
    writes: Write[],
    lock: (key: string) => Promise<void>,
    lockAll: (keys: readonly string[]) => Promise<void> = async (keys) => {
      for (const k of keys) await lock(k);
    },
    many: (reads: readonly ManyRead[]) => Promise<Record<string, unknown>[][]> = async (reads) => {
      const out: Record<string, unknown>[][] = [];
      for (const r of reads) {
        if ('locks' in r) {
          await lockAll(r.locks);
          out.push([]);
        } else out.push(await read(r.sql, r.params ?? []));
      }
      return out;
    },
  ): Unit {
    const dialect = this.dialect;
    return {
      dialect,
      query: read,
      queryMany: many,
      write: (sql, params = []) => void writes.push({ sql, params }),
      insertRows: (table, columns, rows, onConflict) => {
        if (rows.length === 0) return;
        const types = dialect === 'postgres' ? columnTypesOf(table, columns) : null;
        if (types) {
          // The rows as one JSON array, taken apart by PostgreSQL: one parameter whatever the row
          // count, serialised by the native JSON.stringify (array literals cost far more to escape in
          // JavaScript; a bigint in a row throws here rather than binding wrongly), and a short statement instead of a thousand-row VALUES list to plan.
          const cols = types.map((t, i) => (t === 'text' ? `r->>${i}` : `(r->>${i})::${PG_CAST[t]}`));
          const sql = `INSERT INTO ${table} (${columns.join(', ')}) SELECT ${cols.join(', ')} FROM jsonb_array_elements(?::jsonb) AS r${onConflict ? ` ${onConflict}` : ''}`;
          for (let i = 0; i < rows.length; i += MAX_JSON_ROWS) writes.push({ sql, params: [JSON.stringify(rows.slice(i, i + MAX_JSON_ROWS))] });
          return;
        }
        const per = Math.max(1, Math.min(MAX_ROWS, Math.floor(MAX_PARAMS[dialect] / columns.length)));
        const tuple = `(${columns.map(() => '?').join(', ')})`;
        for (let i = 0; i < rows.length; i += per) {
          const chunk = rows.slice(i, i + per);
          writes.push({
            sql: `INSERT INTO ${table} (${columns.join(', ')}) VALUES ${chunk.map(() => tuple).join(', ')}${onConflict ? ` ${onConflict}` : ''}`,
            params: chunk.flat(),
          });
        }
      },
      lock,
      lockAll,
      forShare: dialect === 'postgres' ? ' FOR SHARE' : '',
      forUpdate: dialect === 'postgres' ? ' FOR UPDATE' : '',
    };
  }

  /**
   * A unit on a connection of TypeORM's pg pool, every statement inlined (`inlineParams`) and sent with
   * the simple protocol: `START TRANSACTION` goes with the unit's first round trip and `COMMIT` with its
   * last script, and `queryMany` sends several reads as one query. A live batch went from 12-15 round
   * trips to 6-8; each costs a wake-up of PostgreSQL and of this process, which on a loaded machine
   * (the live path runs five processes on two cores) is where the time went (docs/benchmarks.md).
   */
  private async postgresUnit<T>(fn: (u: Unit) => Promise<T>): Promise<T> {
    const pool = (this.ds.driver as unknown as { master?: PgPool }).master;
    if (!pool) throw new Error('the PostgreSQL data source is not initialised');
    const client = await pool.connect();
    let begun = false;
    let done = false;
    let broken = false;
    // A checked-out pg client has no 'error' listener of the pool's: a connection that drops between two
    // round trips would emit an unhandled 'error' and end the process. The query in flight, if any,
    // fails on its own; the connection is then discarded, not returned to the pool.
    const onError = () => {
      broken = true;
    };
    client.on('error', onError);
    // One round trip; the transaction begins with the first. The rows of each statement sent.
    const trip = async (statements: readonly string[]): Promise<Record<string, unknown>[][]> => {
      const head = begun ? [] : ['START TRANSACTION', SCRIPT_PREAMBLE];
      begun = true;
      const sent = [...head, ...statements];
      const r = await client.query(sent.join(';\n'));
      const results = Array.isArray(r) ? r : [r];
      return results.slice(head.length).map((x) => x.rows ?? []);
    };
    const writes: Write[] = [];
    try {
      const read = async <R>(sql: string, params: readonly unknown[] = []) => ((await trip([inlineParams(sql, params)]))[0] ?? []) as R[];
      const lockSql = (keys: readonly string[]) =>
        // Sorted by key value: every unit takes them in the same order.
        `SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT unnest(${pgLiteral(keys.map(lockKey))}::bigint[]) AS k ORDER BY 1) x`;
      const out = await fn(
        this.makeUnit(
          read,
          writes,
          async (key) => {
            await trip([lockSql([key])]);
          },
          async (keys) => {
            if (keys.length > 0) await trip([lockSql(keys)]);
          },
          async (reads) => {
            const sql = reads.map((r) => ('locks' in r ? (r.locks.length > 0 ? lockSql(r.locks) : 'SELECT 1 WHERE false') : inlineParams(r.sql, r.params ?? [])));
            return sql.length === 0 ? [] : trip(sql);
          },
        ),
      );
      // The writes go as a few multi-statement queries rather than one round trip each (a live batch
      // has 20-40 of them), the last one with the COMMIT.
      const scripts: string[][] = [[]];
      let size = 0;
      for (const w of writes) {
        const stmt = inlineParams(w.sql, w.params);
        if (size + stmt.length > MAX_SCRIPT && (scripts[scripts.length - 1] as string[]).length > 0) {
          scripts.push([]);
          size = 0;
        }
        (scripts[scripts.length - 1] as string[]).push(stmt);
        size += stmt.length;
      }
      if (begun || writes.length > 0) {
        for (let i = 0; i < scripts.length; i++) {
          const last = i === scripts.length - 1;
          await trip([...(scripts[i] as string[]), ...(last ? ['COMMIT'] : [])]);
        }
      }
      done = true;
      return out;
    } catch (e) {
      if (begun && !done) await client.query('ROLLBACK').catch(() => (broken = true));
      throw e;
    } finally {
      client.off('error', onError);
      client.release(broken ? true : undefined);
    }
  }

  private raw(): RawSqlite {
    return (this.ds.driver as unknown as { databaseConnection: RawSqlite }).databaseConnection;
  }

  private async sqliteUnit<T>(fn: (u: Unit) => Promise<T>): Promise<T> {
    const writes: Write[] = [];
    const out = await fn(this.makeUnit((sql, params) => this.query(sql, params), writes, () => Promise.resolve()));
    if (writes.length === 0) return out;
    const db = this.raw();
    // The connection is shared with the event store: wait until it has no open transaction, then
    // commit synchronously, so nothing else can interleave with this transaction.
    while (db.inTransaction) await new Promise((r) => setImmediate(r));
    let cache = statementCaches.get(db);
    if (!cache) {
      cache = new Map();
      statementCaches.set(db, cache);
    }
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const w of writes) {
        let stmt = cache.get(w.sql);
        if (!stmt) {
          if (cache.size > 300) cache.clear();
          stmt = db.prepare(w.sql);
          cache.set(w.sql, stmt);
        }
        stmt.run(...w.params.map(sqliteParam));
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw e;
    }
    return out;
  }
}
