import { createHash } from 'node:crypto';
import { MODEL_TABLES, modelPrefix, type TableDef } from './schema';
import type { Reader } from './sql';

export interface TableChecksum {
  readonly rows: number;
  readonly digest: string;
}

export interface ModelChecksum {
  readonly model: string;
  /** Digest over every table; equal models have equal digests whatever the dialect or build path. */
  readonly digest: string;
  readonly tables: Readonly<Record<string, TableChecksum>>;
}

const MOD = 1n << 256n;

function digested(t: TableDef): TableDef['columns'] {
  return t.columns.filter(([c]) => !(t.checksumExcludes ?? []).includes(c));
}

function normalise(t: TableDef, row: Record<string, unknown>): unknown[] {
  return digested(t).map(([c, type]) => {
    const v = row[c];
    if (v === null || v === undefined) return null;
    switch (type) {
      case 'int':
        return BigInt(v as string | number).toString();
      case 'real':
        return Number(v);
      case 'text':
        return typeof v === 'string' ? v : JSON.stringify(v);
    }
  });
}

/**
 * Order-independent digest of one table: the sum (mod 2^256) of a SHA-256 per row over normalised
 * values, so neither the dialect's collation nor the physical row order matters. Log metadata
 * (`checksumExcludes`) is left out, so two logs of the same events give the same digest.
 */
export async function tableChecksum(r: Reader, t: TableDef, prefix: string, pageSize = 5000): Promise<TableChecksum> {
  const table = `${prefix}${t.name}`;
  const cols = [...new Set([...digested(t).map(([c]) => c), ...t.pk])].join(', ');
  const pk = t.pk.join(', ');
  let sum = 0n;
  let rows = 0;
  let after: unknown[] | null = null;
  for (;;) {
    const where: string = after ? `WHERE (${pk}) > (${t.pk.map(() => '?').join(', ')})` : '';
    const page: Record<string, unknown>[] = await r.query(`SELECT ${cols} FROM ${table} ${where} ORDER BY ${pk} LIMIT ${pageSize}`, after ?? []);
    for (const row of page) {
      const h = createHash('sha256').update(t.name).update('\u0000').update(JSON.stringify(normalise(t, row))).digest('hex');
      sum = (sum + BigInt(`0x${h}`)) % MOD;
      rows += 1;
    }
    if (page.length < pageSize) break;
    const last = page[page.length - 1] as Record<string, unknown>;
    after = t.pk.map((c) => last[c]);
  }
  const digest = createHash('sha256').update(`${t.name}:${rows}:${sum.toString(16)}`).digest('hex');
  return { rows, digest };
}

export async function modelChecksum(r: Reader, model: string): Promise<ModelChecksum> {
  const tables: Record<string, TableChecksum> = {};
  const h = createHash('sha256');
  for (const t of MODEL_TABLES) {
    const c = await tableChecksum(r, t, modelPrefix(model));
    tables[t.name] = c;
    h.update(`${t.name}=${c.digest};`);
  }
  return { model, digest: h.digest('hex'), tables };
}
