import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { numberPlaceholders } from './sql';

/**
 * Several reads as one PostgreSQL statement. A request's reads (the live model's check, freshness, the
 * seeks) would otherwise be one round trip each plus BEGIN and COMMIT for a snapshot, and on these
 * machines the round trips, not the seeks, are what a request costs. One statement is one snapshot, so
 * the reads still see the same committed state.
 */

/** One read: a SELECT (with `?` placeholders) whose columns are read back as text. */
export interface Part {
  readonly sql: string;
  readonly params: readonly unknown[];
  /** Output columns of `sql` to read back, in this order. */
  readonly columns: readonly string[];
  /** Order of the part's rows, over its columns (e.g. `vt, position, event_id`); default none. */
  readonly order?: string;
}

/** A row of a part: its columns as text (a NULL stays null). */
export type TextRow = Readonly<Record<string, string | null>>;

export interface Combined {
  readonly sql: string;
  readonly params: unknown[];
}

/**
 * The parts as `UNION ALL` of text columns tagged with the part's index and the row's rank in it, after
 * an optional `WITH` list that parts may refer to. Parameters are numbered in order of appearance:
 * the `WITH` list's first, then each part's.
 */
export function combine(parts: readonly Part[], with_?: { readonly sql: string; readonly params: readonly unknown[] }): Combined {
  const width = Math.max(1, ...parts.map((p) => p.columns.length));
  const branches = parts.map((p, i) => {
    const cols = Array.from({ length: width }, (_, j) => {
      const c = p.columns[j];
      return c === undefined ? `NULL::text AS c${j}` : `p.${c}::text AS c${j}`;
    });
    const rank = p.order ? `row_number() OVER (ORDER BY ${p.order.split(',').map((x) => `p.${x.trim()}`).join(', ')})` : '0';
    return `SELECT ${i} AS q, ${rank} AS n, ${cols.join(', ')} FROM (${p.sql}) p`;
  });
  const cols = Array.from({ length: width }, (_, j) => `c${j}`).join(', ');
  return {
    sql: `${with_ ? `WITH ${with_.sql} ` : ''}SELECT q, ${cols} FROM (${branches.join(' UNION ALL ')}) u ORDER BY q, n`,
    params: [...(with_?.params ?? []), ...parts.flatMap((p) => p.params)],
  };
}

/** The rows of a combined statement, back per part (in the part's order) under the part's column names. */
export function split(parts: readonly Part[], rows: readonly Readonly<Record<string, unknown>>[]): TextRow[][] {
  const out: Record<string, string | null>[][] = parts.map(() => []);
  for (const row of rows) {
    const i = Number(row['q']);
    const part = parts[i];
    const bucket = out[i];
    if (!part || !bucket) throw new Error(`combined statement: a row of no part (${String(row['q'])})`);
    const r: Record<string, string | null> = {};
    part.columns.forEach((c, j) => {
      const v = row[`c${j}`];
      // Every column is cast to text; anything else would be a driver's parsing, undone here.
      r[c] = v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);
    });
    bucket.push(r);
  }
  return out;
}

/** The bit of a `pg` pool used here (TypeORM's PostgreSQL driver keeps one as `master`). */
interface PgPool {
  query(config: { readonly name?: string; readonly text: string; readonly values: unknown[] }): Promise<{ readonly rows: Record<string, unknown>[] }>;
}

/**
 * Combined statements as named prepared statements on the driver's pool. Planning these statements
 * (lateral seeks, a `WITH` list, a union) took PostgreSQL about as long as running them; a named
 * statement is parsed once per connection and, after its first five runs, planned once (PostgreSQL
 * keeps a generic plan when it costs no more than the custom ones, which for these index seeks it
 * does). Statement texts vary only with the request's shape (which parts, how many values in an IN
 * list, the model's tables), and at most `max` of them are named per process, each pooled connection
 * preparing those it runs; past that they run unnamed, planned each time as before.
 */
export class PreparedStatements {
  private readonly names = new Map<string, string>();

  /** `pool` is looked up at each query: a data source's pool exists only once it is initialised. */
  constructor(
    private readonly pool: () => PgPool,
    private readonly max = 256,
  ) {}

  /** For a TypeORM PostgreSQL data source; null for any other. */
  static of(ds: DataSource): PreparedStatements | null {
    if (ds.options.type !== 'postgres') return null;
    return new PreparedStatements(() => {
      const pool = (ds.driver as unknown as { master?: Partial<PgPool> }).master;
      if (!pool || typeof pool.query !== 'function') throw new Error('the PostgreSQL data source is not initialised');
      return pool as PgPool;
    });
  }

  /** Runs a statement written with `?` placeholders. */
  async query(sql: string, params: readonly unknown[]): Promise<Record<string, unknown>[]> {
    let name = this.names.get(sql);
    if (name === undefined && this.names.size < this.max) {
      name = `rs_q${this.names.size}_${createHash('sha1').update(sql).digest('hex').slice(0, 12)}`;
      this.names.set(sql, name);
    }
    const text = numberPlaceholders(sql);
    const r = await this.pool().query(name === undefined ? { text, values: [...params] } : { name, text, values: [...params] });
    return r.rows;
  }
}
