import type { DataSource } from 'typeorm';

/** One statement; SQL uses PostgreSQL `$n` placeholders on both dialects. */
export interface Stmt {
  readonly sql: string;
  readonly params: readonly unknown[];
}

export const stmt = (sql: string, ...params: unknown[]): Stmt => ({ sql, params });

/**
 * The alerts tables' access path. `batch` runs statements atomically and returns each statement's rows
 * (use RETURNING to learn what an upsert did).
 */
export interface AlertsDb {
  readonly kind: 'postgres' | 'sqlite';
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  batch(stmts: readonly Stmt[]): Promise<Record<string, unknown>[][]>;
}

export function createAlertsDb(ds: DataSource): AlertsDb {
  return ds.options.type === 'postgres' ? new PostgresAlertsDb(ds) : new SqliteAlertsDb(ds);
}

class PostgresAlertsDb implements AlertsDb {
  readonly kind = 'postgres' as const;
  constructor(private readonly ds: DataSource) {}

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const qr = this.ds.createQueryRunner();
    try {
      return (await qr.query(sql, [...params], true)).records as R[];
    } finally {
      await qr.release();
    }
  }

  async batch(stmts: readonly Stmt[]): Promise<Record<string, unknown>[][]> {
    const qr = this.ds.createQueryRunner();
    try {
      await qr.startTransaction();
      const out: Record<string, unknown>[][] = [];
      for (const s of stmts) out.push(((await qr.query(s.sql, [...s.params], true)).records ?? []) as Record<string, unknown>[]);
      await qr.commitTransaction();
      return out;
    } catch (e) {
      if (qr.isTransactionActive) await qr.rollbackTransaction();
      throw e;
    } finally {
      await qr.release();
    }
  }
}

interface RawStatement {
  readonly reader: boolean;
  all(...p: unknown[]): unknown[];
  run(...p: unknown[]): { changes: number };
}
interface RawSqlite {
  readonly inTransaction: boolean;
  prepare(sql: string): RawStatement;
  transaction<T>(fn: () => T): () => T;
}

/** `$1 … $n` → `?`, with the parameters expanded in occurrence order (better-sqlite3 has no `?NNN`). */
export function toSqlite(sql: string, params: readonly unknown[]): { sql: string; params: unknown[] } {
  const out: unknown[] = [];
  const text = sql.replace(/\$(\d+)/g, (_m, n: string) => {
    out.push(params[Number(n) - 1]);
    return '?';
  });
  return { sql: text, params: out.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p)) };
}

/**
 * SQLite has one connection per file, shared with the event store, whose transactions span awaits.
 * Alerts statements therefore run synchronously (nothing can interleave) and only while that connection
 * is outside a transaction; otherwise they would join, or break, the event store's transaction.
 */
class SqliteAlertsDb implements AlertsDb {
  readonly kind = 'sqlite' as const;
  private readonly cache = new Map<string, RawStatement>();
  constructor(private readonly ds: DataSource) {}

  private raw(): RawSqlite {
    const db = (this.ds.driver as unknown as { databaseConnection?: RawSqlite }).databaseConnection;
    if (!db) throw new Error('SQLite connection is not open');
    return db;
  }

  private async idle(): Promise<RawSqlite> {
    for (let i = 0; ; i++) {
      const db = this.raw();
      if (!db.inTransaction) return db;
      await new Promise((r) => (i < 20 ? setImmediate(r) : setTimeout(r, 2)));
    }
  }

  private exec(db: RawSqlite, s: Stmt): Record<string, unknown>[] {
    const { sql, params } = toSqlite(s.sql, s.params);
    let prepared = this.cache.get(sql);
    if (!prepared) {
      prepared = db.prepare(sql);
      if (this.cache.size > 200) this.cache.clear();
      this.cache.set(sql, prepared);
    }
    if (prepared.reader) return prepared.all(...params) as Record<string, unknown>[];
    prepared.run(...params);
    return [];
  }

  async query<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const db = await this.idle();
    return this.exec(db, { sql, params }) as R[];
  }

  async batch(stmts: readonly Stmt[]): Promise<Record<string, unknown>[][]> {
    const db = await this.idle();
    return db.transaction(() => stmts.map((s) => this.exec(db, s)))();
  }
}
