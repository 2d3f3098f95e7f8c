import type { Dialect } from './sql';

/**
 * Read-model tables. Every model (a live version `v1`, `v2`... or a named research model `x_<name>`)
 * has its own copy of the model tables under the prefix `rm_<model>_`, so a rebuild can fill a new
 * version while the live one keeps answering. Bookkeeping tables (`rm_state`, `rm_models`,
 * `rm_checkpoints`, `rm_dead_letters`) are shared.
 *
 * Instants are text (normalised UTC, see time.ts); JSON is canonical text on both dialects.
 */
export type ColumnType = 'text' | 'int' | 'real';

export interface TableDef {
  readonly name: string;
  readonly columns: readonly (readonly [name: string, type: ColumnType, nullable?: 'null'])[];
  readonly pk: readonly string[];
  readonly indexes: readonly (readonly string[])[];
  /**
   * Columns left out of the checksum: log metadata (positions, the stored document with its recorded
   * time), which differ between two logs of the same events ingested separately.
   */
  readonly checksumExcludes?: readonly string[];
}

/** Text compares bytewise on both dialects (COLLATE "C" on PostgreSQL, BINARY on SQLite). */
/** Layout of the model tables; a change means a new migration and a rebuild into a new version. */
export const MODEL_LAYOUT = 1;

export const MODEL_TABLES: readonly TableDef[] = [
  {
    // Every applied event: the processed-event set (idempotency by id) and the facts read models are recomputed from.
    name: 'facts',
    columns: [
      ['event_id', 'text'],
      ['position', 'int'],
      ['stream_id', 'text'],
      ['type', 'text'],
      ['cat', 'text'],
      ['instrument_id', 'text', 'null'],
      ['jurisdiction', 'text', 'null'],
      ['target_event_id', 'text', 'null'],
      ['vt', 'text'],
      ['kt', 'text'],
      ['doc', 'text'],
    ],
    pk: ['event_id'],
    indexes: [['target_event_id'], ['instrument_id', 'cat'], ['cat', 'jurisdiction']],
    checksumExcludes: ['position', 'doc'],
  },
  {
    name: 'instruments',
    columns: [
      ['event_id', 'text'],
      ['kt_from', 'text'],
      ['kt_to', 'text'],
      ['instrument_id', 'text'],
      ['jurisdiction', 'text'],
      ['vt', 'text'],
      ['kt', 'text'],
      ['position', 'int'],
      ['payload', 'text'],
    ],
    pk: ['event_id', 'kt_from'],
    indexes: [['instrument_id', 'kt_to'], ['jurisdiction', 'instrument_id'], ['kt_to', 'instrument_id']],
    checksumExcludes: ['position'],
  },
  {
    name: 'milestones',
    columns: [
      ['event_id', 'text'],
      ['kt_from', 'text'],
      ['kt_to', 'text'],
      ['instrument_id', 'text'],
      ['jurisdiction', 'text', 'null'],
      ['type', 'text'],
      ['vt', 'text'],
      ['kt', 'text'],
      ['position', 'int'],
      ['status', 'text', 'null'],
      ['status_rank', 'int'],
      ['payload', 'text'],
    ],
    pk: ['event_id', 'kt_from'],
    // kt_from and kt_to in the first index (ADR 0010): a timeline page skips the rows not known at its
    // knownAt inside the index instead of fetching each from the table, so a denser history costs
    // index entries, not heap reads.
    indexes: [['jurisdiction', 'vt', 'kt_from', 'kt_to'], ['instrument_id', 'status_rank', 'vt'], ['vt']],
    checksumExcludes: ['position'],
  },
  {
    name: 'applicability',
    columns: [
      ['instrument_id', 'text'],
      ['provision', 'text'],
      ['kt_from', 'text'],
      ['kt_to', 'text'],
      ['vt_from', 'text'],
      ['vt_to', 'text'],
      ['applies_from', 'text'],
      ['jurisdiction', 'text', 'null'],
      ['payload', 'text'],
    ],
    pk: ['instrument_id', 'provision', 'kt_from', 'vt_from'],
    indexes: [['applies_from'], ['jurisdiction', 'applies_from']],
  },
  {
    name: 'stances',
    columns: [
      ['jurisdiction', 'text'],
      ['dimension', 'text'],
      ['kt_from', 'text'],
      ['kt_to', 'text'],
      ['vt_from', 'text'],
      ['vt_to', 'text'],
      ['event_id', 'text'],
      ['codebook_version', 'text'],
      ['payload', 'text'],
    ],
    pk: ['jurisdiction', 'dimension', 'kt_from', 'vt_from'],
    indexes: [
      // As for milestones: an as-of seek with a knownAt passes over other knowledge versions in the index.
      ['jurisdiction', 'dimension', 'vt_from', 'kt_from', 'kt_to'],
      ['jurisdiction', 'dimension', 'kt_to', 'vt_from'],
    ],
  },
  {
    // Divergence change points: "as known from kt, the series takes this value from vt on".
    name: 'div_points',
    columns: [
      ['series', 'text'],
      ['vt', 'text'],
      ['kt', 'text'],
      ['scope', 'text'],
      ['a', 'text', 'null'],
      ['b', 'text', 'null'],
      ['dimension', 'text'],
      ['value', 'real', 'null'],
      ['payload', 'text'],
      ['caused_by', 'text'],
    ],
    pk: ['series', 'vt', 'kt'],
    indexes: [['kt']],
  },
  {
    name: 'jurisdictions',
    columns: [
      ['jurisdiction', 'text'],
      ['source', 'text'],
    ],
    pk: ['jurisdiction', 'source'],
    indexes: [],
  },
];

export const SHARED_TABLES: readonly TableDef[] = [
  {
    name: 'rm_state',
    columns: [
      ['projector', 'text'],
      ['active_model', 'text'],
      ['switched_at', 'text'],
    ],
    pk: ['projector'],
    indexes: [],
  },
  {
    name: 'rm_models',
    columns: [
      ['model', 'text'],
      ['kind', 'text'],
      ['version', 'int', 'null'],
      ['name', 'text', 'null'],
      ['status', 'text'],
      ['params', 'text'],
      ['layout', 'int'],
      ['created_at', 'text'],
      ['completed_at', 'text', 'null'],
      ['store_checkpoint', 'text', 'null'],
      ['events', 'int'],
    ],
    pk: ['model'],
    indexes: [],
  },
  {
    name: 'rm_checkpoints',
    columns: [
      ['projector', 'text'],
      ['version', 'text'],
      ['partition_id', 'text'],
      ['msg_offset', 'text'],
      ['position', 'int', 'null'],
      ['updated_at', 'text'],
    ],
    pk: ['projector', 'version', 'partition_id'],
    indexes: [],
  },
];

const SQL_TYPE: Record<Dialect, Record<ColumnType, string>> = {
  postgres: { text: 'text COLLATE "C"', int: 'bigint', real: 'double precision' },
  sqlite: { text: 'TEXT', int: 'INTEGER', real: 'REAL' },
};

export function tableDdl(dialect: Dialect, t: TableDef, prefix = '', opts: { indexes?: boolean } = {}): string[] {
  const name = `${prefix}${t.name}`;
  const cols = t.columns.map(([c, type, n]) => `${c} ${SQL_TYPE[dialect][type]}${n ? '' : ' NOT NULL'}`);
  const out = [`CREATE TABLE IF NOT EXISTS ${name} (${cols.join(', ')}, PRIMARY KEY (${t.pk.join(', ')}))`];
  if (opts.indexes ?? true) out.push(...indexDdl(t, prefix));
  return out;
}

export function indexDdl(t: TableDef, prefix = ''): string[] {
  const name = `${prefix}${t.name}`;
  return t.indexes.map((ix, i) => `CREATE INDEX IF NOT EXISTS ${name}_ix${i} ON ${name} (${ix.join(', ')})`);
}

/**
 * The first index of milestones and stances as ADR 0010 has it, for a model built before: dropped and
 * created again (`previous`: as it was, for the migration's down).
 */
export function bitemporalIndexDdl(model: string, previous = false): string[] {
  const out: string[] = [];
  for (const t of MODEL_TABLES.filter((x) => x.name === 'milestones' || x.name === 'stances')) {
    const name = `${modelPrefix(model)}${t.name}`;
    const cols = previous ? (t.name === 'milestones' ? ['jurisdiction', 'vt'] : ['jurisdiction', 'dimension', 'vt_from']) : (t.indexes[0] as readonly string[]);
    out.push(`DROP INDEX IF EXISTS ${name}_ix0`, `CREATE INDEX ${name}_ix0 ON ${name} (${cols.join(', ')})`);
  }
  return out;
}

export function deadLetterDdl(dialect: Dialect): string[] {
  const id = dialect === 'postgres' ? 'id bigserial PRIMARY KEY' : 'id INTEGER PRIMARY KEY AUTOINCREMENT';
  const t = dialect === 'postgres' ? 'text' : 'TEXT';
  const i = dialect === 'postgres' ? 'bigint' : 'INTEGER';
  return [
    `CREATE TABLE IF NOT EXISTS rm_dead_letters (${id}, projector ${t} NOT NULL, version ${t} NOT NULL, partition_id ${t} NOT NULL,
      msg_offset ${t}, event_id ${t} NOT NULL, position ${i}, type ${t}, stream_id ${t}, error ${t} NOT NULL, payload ${t} NOT NULL,
      attempts ${i} NOT NULL, status ${t} NOT NULL, first_failed_at ${t} NOT NULL, last_failed_at ${t} NOT NULL, resolved_at ${t})`,
    `CREATE UNIQUE INDEX IF NOT EXISTS rm_dead_letters_event ON rm_dead_letters (version, event_id)`,
    `CREATE INDEX IF NOT EXISTS rm_dead_letters_status ON rm_dead_letters (status, id)`,
  ];
}

export const modelPrefix = (model: string): string => `rm_${model}_`;

/** A model's tables; a rebuild creates the secondary indexes only after its bulk load (`modelIndexDdl`). */
export function modelDdl(dialect: Dialect, model: string, opts: { indexes?: boolean } = {}): string[] {
  return MODEL_TABLES.flatMap((t) => tableDdl(dialect, t, modelPrefix(model), opts));
}

export function modelIndexDdl(model: string): string[] {
  return MODEL_TABLES.flatMap((t) => indexDdl(t, modelPrefix(model)));
}


/** Planner statistics for a model's tables (both dialects). */
export function analyzeDdl(model: string): string[] {
  return MODEL_TABLES.map((t) => `ANALYZE ${modelPrefix(model)}${t.name}`);
}

export function dropModelDdl(model: string): string[] {
  return [...MODEL_TABLES].reverse().map((t) => `DROP TABLE IF EXISTS ${modelPrefix(model)}${t.name}`);
}

export const MODEL_ID = /^(?:v[1-9][0-9]{0,5}|x_[a-z][a-z0-9_]{0,39})$/;
export const MODEL_NAME = /^[a-z][a-z0-9_]{0,39}$/;

export function assertModelId(model: string): string {
  if (!MODEL_ID.test(model)) throw new Error(`not a read-model id: '${model}'`);
  return model;
}

const TYPE_CACHE = new Map<string, readonly ColumnType[] | null>();
/**
 * The column types of a model or shared table by its full name (`rm_v2_facts`), for statements that
 * pass whole columns as typed arrays; null for a table this module does not define.
 */
export function columnTypesOf(table: string, columns: readonly string[]): readonly ColumnType[] | null {
  const key = `${table}\u0000${columns.join(',')}`;
  const hit = TYPE_CACHE.get(key);
  if (hit !== undefined) return hit;
  const def =
    SHARED_TABLES.find((t) => t.name === table) ??
    [...MODEL_TABLES].sort((a, b) => b.name.length - a.name.length).find((t) => table.startsWith('rm_') && table.endsWith(`_${t.name}`));
  const types = def ? columns.map((c) => def.columns.find(([name]) => name === c)?.[1]) : null;
  const out = types && types.every((t): t is ColumnType => t !== undefined) ? types : null;
  TYPE_CACHE.set(key, out);
  return out;
}
