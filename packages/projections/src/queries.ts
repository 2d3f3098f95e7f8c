import {
  aggregateIndex,
  CODEBOOK_V1,
  type Codebook,
  type CodedValue,
  type ComplianceGap,
  complianceGap,
  distanceToReference,
  type IndexOptions,
  pairMatrix,
  type Profile,
  type StanceValue,
  type WeightScheme,
} from '@regstream/domain';
import type { DataSource } from 'typeorm';
import {
  AGGREGATE,
  DEFAULT_JURISDICTIONS,
  emptyPayload,
  type GlobalPayload,
  globalSeries,
  expandPair,
  type PairCoverage,
  type PairPayload,
  pairPayload,
  pairSeries,
  payloadText,
  type SeriesScope,
  storedJurisdictions,
} from './compute/divergence';
import { indexAt } from './compute/ledger';
import { combine, type Part, PreparedStatements, split, type TextRow } from './combined';
import { parseJson } from './json';
import { DEFAULT_PROJECTOR } from './migrations';
import { MODEL_ID } from './schema';
import { type Reader, SqlDb } from './sql';
import { chunks, type ModelTables, placeholders, tablesOf } from './tables';
import { addDays, cmp, INF, NEG_INF, norm } from './time';

export class UnknownModelError extends Error {
  constructor(readonly model: string) {
    super(`no read model '${model}'`);
    this.name = 'UnknownModelError';
  }
}

export interface Freshness {
  readonly position: string | null;
  readonly updatedAt: string | null;
}

/** Valid time (`asOf`, default now) and known time (`knownAt`, default: everything known). */
export interface Bitemporal {
  readonly asOf?: string;
  readonly knownAt?: string;
  /** A model id (`v2`) or a named research model (`eu2024`); default the live model. */
  readonly model?: string;
}

export interface Citation {
  readonly url: string;
  readonly pinpoint?: string;
  readonly tier: string;
  readonly retrievedAt: string;
  readonly lastVerifiedAt: string;
}

export interface Milestone {
  readonly eventId: string;
  readonly instrumentId: string;
  readonly instrumentTitle: string | null;
  readonly type: string;
  readonly validTime: string;
  readonly knownTime: string;
  readonly provision?: string;
  readonly summary?: string;
  readonly future: boolean;
  readonly citation: Citation | null;
  readonly details: Record<string, unknown>;
}

export interface TimelineResult {
  readonly asOf: string;
  readonly knownAt: string | null;
  readonly freshness: Freshness;
  readonly lanes: { readonly jurisdiction: string; readonly milestones: Milestone[] }[];
  readonly truncated: boolean;
  readonly coverage: Record<string, number>;
}

export interface InstrumentView {
  readonly id: string;
  readonly jurisdiction: string;
  readonly kind: string;
  readonly legalForce: string;
  readonly issuingBody: string;
  readonly titles: Record<string, string>;
  readonly identifiers: Record<string, string>;
  readonly status: string;
  readonly statusSince: string | null;
  readonly citation: Citation | null;
}

export interface ApplicabilityView {
  readonly provision: string;
  readonly appliesFrom: string;
  readonly history: readonly { eventId: string; type: string; date: string; knownAt: string }[];
}

export interface StanceView {
  readonly jurisdiction: string;
  readonly dimension: string;
  readonly value: StanceValue;
  readonly validFrom: string;
  readonly validTo: string | null;
  readonly knownAt: string;
  readonly confidence: number;
  readonly basis?: string;
  readonly provisions: readonly string[];
  readonly evidence: string;
  readonly citation: Citation | null;
  readonly eventId: string;
  readonly codebookVersion: string;
}

export interface PairView {
  readonly a: string;
  readonly b: string;
  readonly value: number | null;
  readonly band: readonly [number, number] | null;
  readonly coverage: PairCoverage;
  readonly codebookVersion: string;
  readonly methodologyVersion: string;
}

export interface DivergenceResult {
  readonly asOf: string;
  readonly knownAt: string | null;
  readonly codebookVersion: string;
  readonly methodologyVersion: string;
  readonly jurisdictions: string[];
  readonly dimension: string | null;
  readonly variant: 'all' | 'de_jure';
  readonly weights: WeightScheme;
  readonly pairs: PairView[];
  readonly global: GlobalPayload & { readonly codebookVersion: string; readonly methodologyVersion: string };
  readonly coverage: Record<string, number>;
  readonly reference?: { jurisdiction: string; value: number | null }[];
  readonly source: 'change-points' | 'computed';
  readonly freshness: Freshness;
}

export interface SeriesPoint {
  readonly validFrom: string;
  readonly value: number | null;
  readonly dispersion: number | null;
  readonly causedBy: string[];
}

export interface SeriesResult {
  readonly scope: SeriesScope;
  readonly jurisdictions: string[];
  readonly a?: string;
  readonly b?: string;
  readonly dimension: string | null;
  readonly knownAt: string | null;
  readonly from: string | null;
  readonly to: string | null;
  readonly points: SeriesPoint[];
  readonly codebookVersion: string;
  readonly methodologyVersion: string;
  readonly freshness: Freshness;
}

export interface QueriesOptions {
  readonly projector?: string;
  readonly clock?: () => Date;
  readonly codebook?: Codebook;
  /**
   * PostgreSQL: answer divergence and timeline with one statement (default). `false` reads them
   * statement by statement in a snapshot transaction, as on SQLite: the reference the one statement is
   * tested against.
   */
  readonly combined?: boolean;
}

interface Ctx {
  readonly r: Reader;
  readonly t: ModelTables;
  readonly asOf: string;
  readonly knownAt: string | null;
}

/** What coverage needs of a coding. */
interface CodedKey {
  readonly jurisdiction: string;
  readonly dimension: string;
}

interface StanceRow {
  jurisdiction: string;
  dimension: string;
  vt_from: string;
  vt_to: string;
  event_id: string;
  codebook_version: string;
  payload: string;
}

interface StancePayload {
  value: StanceValue;
  confidence: number;
  basis: 'binding' | 'voluntary' | 'political' | null;
  provisions: string[];
  evidence: string;
  coder: string;
  citation: Citation | null;
  validFrom: string;
  knownAt: string;
}

const UNION_TERMS = 300;
/** A combined statement retried this often when the live model switches under it, then it fails. */
const MODEL_SWITCH_RETRIES = 5;
const STANCE_COLUMNS = ['jurisdiction', 'dimension', 'vt_from', 'vt_to', 'event_id', 'codebook_version', 'payload'] as const;
const MILESTONE_COLUMNS = ['event_id', 'instrument_id', 'jurisdiction', 'type', 'vt', 'position', 'payload'] as const;

interface MilestoneRow {
  event_id: string;
  instrument_id: string;
  jurisdiction: string | null;
  type: string;
  vt: string;
  payload: string;
}

/** A column of a combined statement's row that the schema says is never NULL. */
function col(row: TextRow, name: string): string {
  const v = row[name];
  if (v === null || v === undefined) throw new Error(`combined statement: column ${name} is NULL`);
  return v;
}

function stanceRowOf(row: TextRow): StanceRow {
  return {
    jurisdiction: col(row, 'jurisdiction'),
    dimension: col(row, 'dimension'),
    vt_from: col(row, 'vt_from'),
    vt_to: col(row, 'vt_to'),
    event_id: col(row, 'event_id'),
    codebook_version: col(row, 'codebook_version'),
    payload: col(row, 'payload'),
  };
}

function undefinedTable(e: unknown): boolean {
  const err = e as { code?: string; driverError?: { code?: string } } | null;
  return (err?.code ?? err?.driverError?.code) === '42P01';
}

/** The body of a combined statement: its parts and the `WITH` list they may refer to. */
interface Reads {
  readonly parts: Part[];
  readonly with?: { readonly sql: string; readonly params: readonly unknown[] };
}

/**
 * The read API over the models. Every answer is bitemporal (valid time `asOf`, known time `knownAt`)
 * and is found with index seeks: per key, the row whose interval contains the instant, never a scan of
 * history.
 */
export class Queries {
  readonly db: SqlDb;
  readonly codebook: Codebook;
  private readonly projector: string;
  private readonly clock: () => Date;
  private readonly combined: boolean;
  private readonly prepared: PreparedStatements | null;
  /**
   * The live model as last seen by this process. Every combined statement reads `rm_state` again in
   * its own snapshot and is run again on the model it names when that differs (a rebuild switched), so
   * an answer is always the live model's at that snapshot; the cache only saves the lookup.
   */
  private live: string | null = null;

  constructor(ds: DataSource, opts: QueriesOptions = {}) {
    this.db = new SqlDb(ds);
    this.codebook = opts.codebook ?? CODEBOOK_V1;
    this.projector = opts.projector ?? DEFAULT_PROJECTOR;
    this.clock = opts.clock ?? (() => new Date());
    this.combined = this.db.dialect === 'postgres' && opts.combined !== false;
    this.prepared = this.combined ? PreparedStatements.of(ds) : null;
  }

  get dimensions(): string[] {
    return this.codebook.dimensions.map((d) => d.id);
  }

  private async ctx(r: Reader, q: Bitemporal): Promise<Ctx> {
    const model = await this.resolveModel(r, q.model);
    return {
      r,
      t: tablesOf(model),
      asOf: q.asOf === undefined ? this.clock().toISOString() : norm(q.asOf),
      knownAt: q.knownAt === undefined ? null : norm(q.knownAt),
    };
  }

  async resolveModel(r: Reader, model?: string): Promise<string> {
    if (model === undefined) {
      const rows = await r.query<{ active_model: string }>(`SELECT active_model FROM rm_state WHERE projector = ?`, [this.projector]);
      return rows[0]?.active_model ?? 'v1';
    }
    const id = modelIdOf(model);
    const rows = await r.query<{ status: string }>(`SELECT status FROM rm_models WHERE model = ?`, [id]);
    checkStatus(model, rows[0]?.status);
    return id;
  }

  private async liveModel(): Promise<string> {
    const rows = await this.db.query<{ active_model: string }>(`SELECT active_model FROM rm_state WHERE projector = ?`, [this.projector]);
    return rows[0]?.active_model ?? 'v1';
  }

  /**
   * Runs a request's reads as one statement (PostgreSQL), together with the model's check and its
   * freshness: one round trip, and one snapshot without BEGIN and COMMIT. The live model comes from the
   * process's cache and is checked in the same statement (see `live`); a named model's status likewise.
   */
  private async readOnce(q: Bitemporal, reads: (c: Ctx) => Reads): Promise<{ c: Ctx; freshness: Freshness; rows: TextRow[][] }> {
    const asOf = q.asOf === undefined ? this.clock().toISOString() : norm(q.asOf);
    const knownAt = q.knownAt === undefined ? null : norm(q.knownAt);
    const named = q.model === undefined ? null : modelIdOf(q.model);
    for (let attempt = 0; ; attempt++) {
      const model = named ?? this.live ?? (this.live = await this.liveModel());
      const c: Ctx = { r: this.db, t: tablesOf(model), asOf, knownAt };
      const body = reads(c);
      const check: Part =
        named === null
          ? { sql: `SELECT active_model FROM rm_state WHERE projector = ?`, params: [this.projector], columns: ['active_model'] }
          : { sql: `SELECT status FROM rm_models WHERE model = ?`, params: [named], columns: ['status'] };
      const fresh: Part = {
        sql: `SELECT max(position) AS position, max(updated_at) AS updated_at FROM rm_checkpoints WHERE projector = ? AND version = ?`,
        params: [this.projector, model],
        columns: ['position', 'updated_at'],
      };
      const parts = [check, fresh, ...body.parts];
      const stmt = combine(parts, body.with);
      let rows: TextRow[][];
      try {
        rows = split(parts, this.prepared ? await this.prepared.query(stmt.sql, stmt.params) : await this.db.query<Record<string, unknown>>(stmt.sql, stmt.params));
      } catch (e) {
        if (!undefinedTable(e)) throw e;
        // A named model that is not there: the same error as before the tables were read.
        if (q.model !== undefined) await this.resolveModel(this.db, q.model);
        // The cached model was dropped after a switch this process had not seen yet.
        const live = named === null ? await this.liveModel() : model;
        if (live === model || attempt >= MODEL_SWITCH_RETRIES) throw e;
        this.live = live;
        continue;
      }
      const [checked = [], freshRows = [], ...rest] = rows;
      if (q.model !== undefined) checkStatus(q.model, checked[0]?.['status'] ?? undefined);
      else {
        const live = checked[0]?.['active_model'] ?? 'v1';
        if (live !== model) {
          this.live = live;
          if (attempt >= MODEL_SWITCH_RETRIES) throw new Error(`the live model kept switching (last ${live})`);
          continue;
        }
      }
      const f = freshRows[0];
      return { c, freshness: { position: f?.['position'] ?? null, updatedAt: f?.['updated_at'] ?? null }, rows: rest };
    }
  }

  /** Known-time condition: rows current now, or rows whose known interval contains knownAt. */
  private known(c: Ctx, alias = ''): { sql: string; params: string[] } {
    const p = alias ? `${alias}.` : '';
    return c.knownAt === null ? { sql: `${p}kt_to = ?`, params: [INF] } : { sql: `${p}kt_from <= ? AND ${p}kt_to > ?`, params: [c.knownAt, c.knownAt] };
  }

  async freshness(r: Reader, model: string): Promise<Freshness> {
    const [row] = await r.query<{ position: string | number | null; updated_at: string | null }>(
      `SELECT max(position) AS position, max(updated_at) AS updated_at FROM rm_checkpoints WHERE projector = ? AND version = ?`,
      [this.projector, model],
    );
    return { position: row?.position === null || row?.position === undefined ? null : String(row.position), updatedAt: row?.updated_at ?? null };
  }

  /** How many of these events the live model has taken in (applied, or dead-lettered as poison). */
  async settled(ids: readonly string[], model?: string): Promise<number> {
    if (ids.length === 0) return 0;
    return this.db.read(async (r) => {
      const m = await this.resolveModel(r, model);
      const t = tablesOf(m);
      let n = 0;
      for (const c of chunks([...new Set(ids)])) {
        const [a] = await r.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${t.facts} WHERE event_id IN (${placeholders(c.length)})`, c);
        const [d] = await r.query<{ n: number | string }>(`SELECT count(*) AS n FROM rm_dead_letters WHERE version = ? AND event_id IN (${placeholders(c.length)})`, [m, ...c]);
        n += Number(a?.n ?? 0) + Number(d?.n ?? 0);
      }
      return n;
    });
  }

  /** Jurisdictions seen in the model, from stance codings or instrument registrations. */
  async jurisdictions(r: Reader, t: ModelTables, source?: 'stance' | 'instrument'): Promise<string[]> {
    const rows = await r.query<{ jurisdiction: string }>(
      `SELECT DISTINCT jurisdiction FROM ${t.jurisdictions}${source ? ' WHERE source = ?' : ''}`,
      source ? [source] : [],
    );
    return rows.map((x) => x.jurisdiction).sort();
  }

  /** One seek per jurisdiction × dimension for the coding valid at asOf as known at knownAt. */
  async stanceRows(c: Ctx, jurisdictions: readonly string[], dimensions: readonly string[]): Promise<StanceRow[]> {
    const keys = jurisdictions.flatMap((j) => dimensions.map((d) => [j, d]));
    const rows = await this.seekEach<StanceRow>(c.r, keys, 2, (key) => this.stanceSeek(c, key, STANCE_COLUMNS), this.stanceSeekParams(c));
    return rows.filter((row) => row.vt_to > c.asOf);
  }

  /** The coding of one key valid at asOf as known at knownAt (its parameters: `stanceSeekParams`). */
  private stanceSeek(c: Ctx, key: (i: number) => string, columns: readonly string[]): string {
    return `SELECT ${columns.join(', ')} FROM ${c.t.stances}
         WHERE jurisdiction = ${key(0)} AND dimension = ${key(1)} AND vt_from <= ? AND ${this.known(c).sql} ORDER BY vt_from DESC LIMIT 1`;
  }

  private stanceSeekParams(c: Ctx): unknown[] {
    return [c.asOf, ...this.known(c).params];
  }

  /**
   * A combined statement's part: the coding per jurisdiction × dimension, as `stanceRows` seeks it, or
   * for every jurisdiction with stance codings when `jurisdictions` is null. `vt_to` is among the
   * columns so that codings ended before asOf can be left out as `stanceRows` does.
   */
  private stancePart(c: Ctx, jurisdictions: readonly string[] | null, dimensions: readonly string[], columns: readonly string[]): Part {
    const inner = (key: (i: number) => string) => this.stanceSeek(c, key, columns);
    if (jurisdictions !== null) {
      const keys = jurisdictions.flatMap((j) => dimensions.map((d) => [j, d]));
      return { ...seekSql(keys, 2, inner, this.stanceSeekParams(c)), columns };
    }
    return {
      sql: `SELECT s.* FROM (SELECT j.jurisdiction AS k0, d.k1 FROM (SELECT DISTINCT jurisdiction FROM ${c.t.jurisdictions} WHERE source = ?) j
        CROSS JOIN unnest(?::text[]) AS d(k1)) k CROSS JOIN LATERAL (${inner((i) => `k.k${i}`)}) s`,
      params: ['stance', [...dimensions], ...this.stanceSeekParams(c)],
      columns,
    };
  }

  private async seekEach<R>(r: Reader, keys: readonly (readonly string[])[], width: number, inner: (key: (i: number) => string) => string, params: readonly unknown[]): Promise<R[]> {
    if (keys.length === 0) return [];
    if (r.dialect === 'postgres') {
      const s = seekSql(keys, width, inner, params);
      return r.query<R>(s.sql, s.params);
    }
    const out: R[] = [];
    const term = inner(() => '?');
    for (const c of chunks(keys, UNION_TERMS)) {
      const sql = c.map((_, i) => `SELECT * FROM (${term}) q${i}`).join(' UNION ALL ');
      out.push(...(await r.query<R>(sql, c.flatMap((k) => [...k, ...params]))));
    }
    return out;
  }

  private stanceView(row: StanceRow): StanceView {
    const p = parseJson<StancePayload>(row.payload);
    return {
      jurisdiction: row.jurisdiction,
      dimension: row.dimension,
      value: p.value,
      validFrom: p.validFrom,
      validTo: row.vt_to === INF ? null : row.vt_to,
      knownAt: p.knownAt,
      confidence: p.confidence,
      ...(p.basis ? { basis: p.basis } : {}),
      provisions: p.provisions,
      evidence: p.evidence,
      citation: p.citation,
      eventId: row.event_id,
      codebookVersion: row.codebook_version,
    };
  }

  private profiles(rows: readonly StanceRow[], variant: 'all' | 'de_jure' = 'all'): Map<string, Profile> {
    const out = new Map<string, Map<string, CodedValue>>();
    for (const row of rows) {
      if (row.codebook_version !== this.codebook.version) continue;
      const p = parseJson<StancePayload>(row.payload);
      if (variant === 'de_jure' && p.basis !== 'binding') continue;
      const m = out.get(row.jurisdiction) ?? new Map<string, CodedValue>();
      m.set(row.dimension, { value: p.value, confidence: p.confidence, ...(p.basis ? { basis: p.basis } : {}) });
      out.set(row.jurisdiction, m);
    }
    return out;
  }

  private coverage(rows: readonly CodedKey[], jurisdictions: readonly string[], dimensions: readonly string[]): Record<string, number> {
    const out: Record<string, number> = {};
    const js = new Set(jurisdictions);
    for (const d of dimensions) {
      const coded = new Set(rows.filter((r) => r.dimension === d && js.has(r.jurisdiction)).map((r) => r.jurisdiction));
      out[d] = jurisdictions.length === 0 ? 0 : coded.size / jurisdictions.length;
    }
    return out;
  }

  /** Per-dimension coverage of the stance matrix over some jurisdictions (all coded ones by default). */
  private async coverageFor(c: Ctx, jurisdictions?: readonly string[]): Promise<Record<string, number>> {
    const js = jurisdictions && jurisdictions.length ? jurisdictions : await this.jurisdictions(c.r, c.t, 'stance');
    return this.coverage(await this.stanceRows(c, js, this.dimensions), js, this.dimensions);
  }

  async stances(q: Bitemporal & { jurisdictions?: readonly string[]; dimensions?: readonly string[] }) {
    return this.db.read(async (r) => {
      const c = await this.ctx(r, q);
      const js = q.jurisdictions?.length ? [...new Set(q.jurisdictions)].sort() : await this.jurisdictions(r, c.t, 'stance');
      const dims = q.dimensions?.length ? [...new Set(q.dimensions)] : this.dimensions;
      const rows = await this.stanceRows(c, js, dims);
      const stances = rows.map((row) => this.stanceView(row)).sort((x, y) => cmp(x.jurisdiction, y.jurisdiction) || cmp(x.dimension, y.dimension));
      return {
        asOf: c.asOf,
        knownAt: c.knownAt,
        codebookVersion: this.codebook.version,
        stances,
        coverage: this.coverage(rows, js, dims),
        freshness: await this.freshness(r, c.t.model),
      };
    });
  }

  async timeline(q: Bitemporal & { jurisdictions?: readonly string[]; instruments?: readonly string[]; types?: readonly string[]; from?: string; to?: string; limit?: number }): Promise<TimelineResult> {
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 10000);
    if (this.combined) {
      const covered = q.jurisdictions?.length ? q.jurisdictions : null;
      const { c, freshness, rows } = await this.readOnce(q, (c) => {
        const ms = this.milestonesSql(c, { ...q, limit: limit + 1 });
        const k = this.known(c);
        // The page ends at the valid time of its last row, found in index order (jurisdiction, vt)
        // without a sort; sorting the rows up to there (ties included) by (vt, position, event_id) then
        // costs the page, not the whole from-to window, however dense the history.
        const cut = `cut AS (SELECT max(vt) AS vt FROM (SELECT vt FROM ${c.t.milestones} WHERE ${ms.where} ORDER BY vt LIMIT ${limit + 1}) x)`;
        const page = `ms AS (SELECT ${MILESTONE_COLUMNS.join(', ')} FROM ${c.t.milestones} WHERE ${ms.where} AND vt <= (SELECT vt FROM cut) ORDER BY vt, position, event_id LIMIT ${limit + 1})`;
        return {
          with: { sql: `${cut}, ${page}`, params: [...ms.params, ...ms.params] },
          parts: [
            { sql: `SELECT ${MILESTONE_COLUMNS.join(', ')} FROM ms`, params: [], columns: MILESTONE_COLUMNS, order: 'vt, position, event_id' },
            // The title alone: PostgreSQL takes it out of the instrument's JSON without building the rest.
            {
              sql: `SELECT instrument_id, payload::json->'titles'->>'en' AS title FROM ${c.t.instruments} WHERE instrument_id IN (SELECT instrument_id FROM ms) AND ${k.sql}`,
              params: k.params,
              columns: ['instrument_id', 'title'],
            },
            this.stancePart(c, covered, this.dimensions, ['jurisdiction', 'dimension', 'vt_to']),
            ...(covered ? [] : [{ sql: `SELECT DISTINCT jurisdiction FROM ${c.t.jurisdictions} WHERE source = ?`, params: ['stance'], columns: ['jurisdiction'] }]),
          ],
        };
      });
      const [msRows = [], titleRows = [], coded = [], codedJs = []] = rows;
      const titles = new Map<string, string>();
      for (const x of titleRows) {
        const title = x['title'];
        if (title !== null && title !== undefined) titles.set(col(x, 'instrument_id'), title);
      }
      const milestones = msRows.map((x) =>
        this.milestoneOf(c, { event_id: col(x, 'event_id'), instrument_id: col(x, 'instrument_id'), jurisdiction: x['jurisdiction'] ?? null, type: col(x, 'type'), vt: col(x, 'vt'), payload: col(x, 'payload') }, titles),
      );
      const js = covered ?? codedJs.map((x) => col(x, 'jurisdiction')).sort();
      const keys = coded.filter((x) => col(x, 'vt_to') > c.asOf).map((x) => ({ jurisdiction: col(x, 'jurisdiction'), dimension: col(x, 'dimension') }));
      return this.timelineAnswer(c, milestones, limit, freshness, this.coverage(keys, js, this.dimensions));
    }
    return this.db.read(async (r) => {
      const c = await this.ctx(r, q);
      const milestones = await this.milestones(c, { ...q, limit: limit + 1 });
      const freshness = await this.freshness(r, c.t.model);
      return this.timelineAnswer(c, milestones, limit, freshness, await this.coverageFor(c, q.jurisdictions));
    });
  }

  private timelineAnswer(c: Ctx, milestones: readonly { jurisdiction: string | null; milestone: Milestone }[], limit: number, freshness: Freshness, coverage: Record<string, number>): TimelineResult {
    const truncated = milestones.length > limit;
    const page = milestones.slice(0, limit);
    const lanes = new Map<string, Milestone[]>();
    for (const m of page) {
      const j = m.jurisdiction ?? 'unknown';
      const lane = lanes.get(j);
      if (lane) lane.push(m.milestone);
      else lanes.set(j, [m.milestone]);
    }
    return {
      asOf: c.asOf,
      knownAt: c.knownAt,
      freshness,
      lanes: [...lanes.entries()].sort(([a], [b]) => cmp(a, b)).map(([jurisdiction, ms]) => ({ jurisdiction, milestones: ms })),
      truncated,
      coverage,
    };
  }

  private milestonesSql(
    c: Ctx,
    q: { jurisdictions?: readonly string[]; instruments?: readonly string[]; types?: readonly string[]; from?: string; to?: string; limit: number },
  ): { sql: string; where: string; params: unknown[] } {
    const k = this.known(c);
    const where = [k.sql];
    const params: unknown[] = [...k.params];
    if (q.jurisdictions?.length) {
      where.push(`jurisdiction IN (${placeholders(q.jurisdictions.length)})`);
      params.push(...q.jurisdictions);
    }
    if (q.instruments?.length) {
      where.push(`instrument_id IN (${placeholders(q.instruments.length)})`);
      params.push(...q.instruments);
    }
    if (q.types?.length) {
      where.push(`type IN (${placeholders(q.types.length)})`);
      params.push(...q.types);
    }
    if (q.from !== undefined) {
      where.push('vt >= ?');
      params.push(norm(q.from));
    }
    if (q.to !== undefined) {
      where.push('vt <= ?');
      params.push(norm(q.to));
    }
    return {
      sql: `SELECT ${MILESTONE_COLUMNS.join(', ')} FROM ${c.t.milestones} WHERE ${where.join(' AND ')} ORDER BY vt, position, event_id LIMIT ${q.limit}`,
      where: where.join(' AND '),
      params,
    };
  }

  private async milestones(
    c: Ctx,
    q: { jurisdictions?: readonly string[]; instruments?: readonly string[]; types?: readonly string[]; from?: string; to?: string; limit: number },
  ): Promise<{ jurisdiction: string | null; milestone: Milestone }[]> {
    const m = this.milestonesSql(c, q);
    const rows = await c.r.query<MilestoneRow>(m.sql, m.params);
    const titles = await this.titles(c, rows.map((x) => x.instrument_id));
    return rows.map((row) => this.milestoneOf(c, row, titles));
  }

  private milestoneOf(c: Ctx, row: MilestoneRow, titles: ReadonlyMap<string, string>): { jurisdiction: string | null; milestone: Milestone } {
    const p = parseJson<{ validTime: string; knownTime: string; provision?: string; summary?: string; citation: Citation | null; details: Record<string, unknown> }>(row.payload);
    return {
      jurisdiction: row.jurisdiction,
      milestone: {
        eventId: row.event_id,
        instrumentId: row.instrument_id,
        instrumentTitle: titles.get(row.instrument_id) ?? null,
        type: row.type,
        validTime: p.validTime,
        knownTime: p.knownTime,
        ...(p.provision !== undefined ? { provision: p.provision } : {}),
        ...(p.summary !== undefined ? { summary: p.summary } : {}),
        future: row.vt > c.asOf,
        citation: p.citation,
        details: p.details,
      },
    };
  }

  private async titles(c: Ctx, ids: readonly string[]): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const k = this.known(c);
    for (const chunk of chunks([...new Set(ids)])) {
      const rows = await c.r.query<{ instrument_id: string; payload: string }>(
        `SELECT instrument_id, payload FROM ${c.t.instruments} WHERE instrument_id IN (${placeholders(chunk.length)}) AND ${k.sql}`,
        [...chunk, ...k.params],
      );
      for (const [id, title] of titleMap(rows)) out.set(id, title);
    }
    return out;
  }

  private async statuses(c: Ctx, ids: readonly string[]): Promise<Map<string, { status: string; since: string }>> {
    const k = this.known(c);
    const rows = await this.seekEach<{ instrument_id: string; status: string; vt: string }>(
      c.r,
      ids.map((id) => [id]),
      1,
      (key) =>
        `SELECT instrument_id, status, vt FROM ${c.t.milestones} WHERE instrument_id = ${key(0)} AND vt <= ? AND status_rank > 0 AND ${k.sql} ORDER BY status_rank DESC, vt DESC LIMIT 1`,
      [c.asOf, ...k.params],
    );
    return new Map(rows.map((row) => [row.instrument_id, { status: row.status, since: row.vt }]));
  }

  private async instrumentRows(c: Ctx, q: { jurisdictions?: readonly string[]; instruments?: readonly string[]; limit?: number; after?: string }): Promise<InstrumentView[]> {
    const k = this.known(c);
    const where = [k.sql];
    const params: unknown[] = [...k.params];
    if (q.jurisdictions?.length) {
      where.push(`jurisdiction IN (${placeholders(q.jurisdictions.length)})`);
      params.push(...q.jurisdictions);
    }
    if (q.instruments?.length) {
      where.push(`instrument_id IN (${placeholders(q.instruments.length)})`);
      params.push(...q.instruments);
    }
    if (q.after !== undefined) {
      where.push('instrument_id > ?');
      params.push(q.after);
    }
    const limit = Math.min(Math.max(q.limit ?? 1000, 1), 5000);
    const rows = await c.r.query<{ instrument_id: string; jurisdiction: string; payload: string }>(
      `SELECT instrument_id, jurisdiction, payload FROM ${c.t.instruments} WHERE ${where.join(' AND ')} ORDER BY instrument_id LIMIT ${limit}`,
      params,
    );
    const statuses = await this.statuses(c, rows.map((x) => x.instrument_id));
    return rows.map((row) => {
      const p = parseJson<{ kind: string; legalForce: string; issuingBody: string; titles: Record<string, string>; identifiers: Record<string, string>; citation: Citation | null }>(row.payload);
      const s = statuses.get(row.instrument_id);
      return {
        id: row.instrument_id,
        jurisdiction: row.jurisdiction,
        kind: p.kind,
        legalForce: p.legalForce,
        issuingBody: p.issuingBody,
        titles: p.titles,
        identifiers: p.identifiers,
        status: s?.status ?? 'registered',
        statusSince: s?.since ?? null,
        citation: p.citation,
      };
    });
  }

  async instruments(q: Bitemporal & { jurisdictions?: readonly string[]; instruments?: readonly string[]; limit?: number; after?: string }) {
    return this.db.read(async (r) => {
      const c = await this.ctx(r, q);
      return {
        asOf: c.asOf,
        knownAt: c.knownAt,
        instruments: await this.instrumentRows(c, q),
        freshness: await this.freshness(r, c.t.model),
        coverage: await this.coverageFor(c, q.jurisdictions),
      };
    });
  }

  /** One instrument with its milestones and applicability, or null when it is not known at knownAt. */
  async instrument(id: string, q: Bitemporal) {
    return this.db.read(async (r) => {
      const c = await this.ctx(r, q);
      const [instrument] = await this.instrumentRows(c, { instruments: [id], limit: 1 });
      if (!instrument) return null;
      const milestones = (await this.milestones(c, { instruments: [id], limit: 10000 })).map((m) => m.milestone);
      const applicability = await this.applicabilityOf(c, id);
      return {
        asOf: c.asOf,
        knownAt: c.knownAt,
        instrument,
        milestones,
        applicability,
        freshness: await this.freshness(r, c.t.model),
        coverage: await this.coverageFor(c, [instrument.jurisdiction]),
      };
    });
  }

  private async applicabilityOf(c: Ctx, id: string): Promise<ApplicabilityView[]> {
    const k = this.known(c);
    const rows = await c.r.query<{ provision: string; payload: string }>(
      `SELECT provision, payload FROM ${c.t.applicability} WHERE instrument_id = ? AND ${k.sql} AND vt_from <= ? AND vt_to > ? ORDER BY applies_from, provision`,
      [id, ...k.params, c.asOf, c.asOf],
    );
    return rows.map((row) => {
      const p = parseJson<{ appliesFrom: string; history: ApplicabilityView['history'] }>(row.payload);
      return { provision: row.provision, appliesFrom: p.appliesFrom, history: p.history };
    });
  }

  /** When each provision of an instrument applies, at asOf as known at knownAt (whether or not the instrument's registration is known). */
  async applicability(id: string, q: Bitemporal): Promise<ApplicabilityView[]> {
    return this.db.read(async (r) => this.applicabilityOf(await this.ctx(r, q), id));
  }

  async upcoming(q: Bitemporal & { days?: number; jurisdictions?: readonly string[]; instruments?: readonly string[]; limit?: number }) {
    return this.db.read(async (r) => {
      const c = await this.ctx(r, q);
      const days = q.days ?? 365;
      const k = this.known(c);
      const where = ['applies_from >= ?', 'applies_from <= ?', k.sql, 'vt_from <= ?', 'vt_to > ?'];
      const params: unknown[] = [c.asOf, addDays(c.asOf, days), ...k.params, c.asOf, c.asOf];
      if (q.jurisdictions?.length) {
        where.push(`jurisdiction IN (${placeholders(q.jurisdictions.length)})`);
        params.push(...q.jurisdictions);
      }
      if (q.instruments?.length) {
        where.push(`instrument_id IN (${placeholders(q.instruments.length)})`);
        params.push(...q.instruments);
      }
      const limit = Math.min(Math.max(q.limit ?? 1000, 1), 10000);
      const rows = await r.query<{ instrument_id: string; provision: string; jurisdiction: string | null; payload: string }>(
        `SELECT instrument_id, provision, jurisdiction, payload FROM ${c.t.applicability} WHERE ${where.join(' AND ')} ORDER BY applies_from, instrument_id, provision LIMIT ${limit}`,
        params,
      );
      return {
        asOf: c.asOf,
        knownAt: c.knownAt,
        days,
        items: rows.map((row) => ({
          instrumentId: row.instrument_id,
          jurisdiction: row.jurisdiction,
          provision: row.provision,
          appliesFrom: parseJson<{ appliesFrom: string }>(row.payload).appliesFrom,
        })),
        freshness: await this.freshness(r, c.t.model),
        coverage: await this.coverageFor(c, q.jurisdictions),
      };
    });
  }

  async gap(q: Bitemporal & { from: string; to: string }): Promise<ComplianceGap & { asOf: string; knownAt: string | null; methodologyVersion: string; freshness: Freshness; coverage: Record<string, number> }> {
    return this.db.read(async (r) => {
      const c = await this.ctx(r, q);
      const rows = await this.stanceRows(c, [q.from, q.to], this.dimensions);
      const profiles = this.profiles(rows);
      const gap = complianceGap(this.codebook, q.from, profiles.get(q.from) ?? new Map(), q.to, profiles.get(q.to) ?? new Map());
      return {
        ...gap,
        asOf: c.asOf,
        knownAt: c.knownAt,
        methodologyVersion: this.codebook.methodologyVersion,
        freshness: await this.freshness(r, c.t.model),
        coverage: this.coverage(rows, [q.from, q.to], this.dimensions),
      };
    });
  }

  /** Seeks the point of each series in force at asOf as known at knownAt. */
  private async seekPoints(c: Ctx, series: readonly string[]): Promise<Map<string, { payload: string; vt: string; causedBy: string[] }>> {
    const rows = await this.seekEach<{ series: string; vt: string; payload: string; caused_by: string }>(c.r, series.map((x) => [x]), 1, (key) => this.pointSeek(c, key), this.pointSeekParams(c));
    return pointMap(rows);
  }

  private pointSeek(c: Ctx, key: (i: number) => string): string {
    return `SELECT series, vt, kt, payload, caused_by FROM ${c.t.divPoints} WHERE series = ${key(0)} AND vt <= ?${c.knownAt === null ? '' : ' AND kt <= ?'} ORDER BY vt DESC, kt DESC LIMIT 1`;
  }

  private pointSeekParams(c: Ctx): string[] {
    return c.knownAt === null ? [c.asOf] : [c.asOf, c.knownAt];
  }

  /** What a divergence request asks, before anything is read. */
  private divergencePlan(q: Bitemporal & { jurisdictions?: readonly string[]; dimensions?: readonly string[]; variant?: 'all' | 'de_jure'; weights?: WeightScheme }) {
    const js = [...new Set(q.jurisdictions?.length ? q.jurisdictions : DEFAULT_JURISDICTIONS)].sort();
    const dims = q.dimensions?.length ? [...new Set(q.dimensions)] : null;
    const variant = q.variant ?? 'all';
    const weights = q.weights ?? 'codebook';
    const ref = this.codebook.referenceRegime;
    const storedSet = new Set(storedJurisdictions(this.codebook));
    const stored = variant === 'all' && weights === 'codebook' && (dims === null || dims.length === 1) && js.every((j) => storedSet.has(j));
    const dim = dims?.[0] ?? AGGREGATE;
    const pairs: [string, string][] = [];
    for (let i = 0; i < js.length; i++) for (let j = i + 1; j < js.length; j++) pairs.push([js[i] as string, js[j] as string]);
    const refPairs = js.filter((j) => j !== ref);
    const storedGlobal = dim === AGGREGATE && sameSet(js, DEFAULT_JURISDICTIONS);
    const series = stored ? [...pairs.map(([a, b]) => pairSeries(a, b, dim)), ...refPairs.map((j) => pairSeries(j, ref, dim)), ...(storedGlobal ? [globalSeries(dim)] : [])] : [];
    return { js, dims, variant, weights, ref, stored, dim, pairs, refPairs, storedGlobal, series };
  }

  async divergence(
    q: Bitemporal & { jurisdictions?: readonly string[]; dimensions?: readonly string[]; variant?: 'all' | 'de_jure'; weights?: WeightScheme },
  ): Promise<DivergenceResult> {
    const plan = this.divergencePlan(q);
    if (this.combined) {
      // From change points, the codings count only towards coverage: their keys are enough.
      const { c, freshness, rows } = await this.readOnce(q, (c) => ({
        parts: plan.stored
          ? [
              this.stancePart(c, plan.js, this.dimensions, ['jurisdiction', 'dimension', 'vt_to']),
              { ...seekSql(plan.series.map((x) => [x]), 1, (key) => this.pointSeek(c, key), this.pointSeekParams(c)), columns: ['series', 'payload'] },
            ]
          : [this.stancePart(c, [...new Set([...plan.js, plan.ref])], this.dimensions, STANCE_COLUMNS)],
      }));
      const [stances = [], points = []] = rows;
      const live = stances.filter((x) => col(x, 'vt_to') > c.asOf);
      if (plan.stored) {
        const keys = live.map((x) => ({ jurisdiction: col(x, 'jurisdiction'), dimension: col(x, 'dimension') }));
        const pts = new Map(points.map((x) => [col(x, 'series'), { payload: col(x, 'payload') }]));
        return this.divergenceAnswer(c, plan, keys, [], pts, freshness);
      }
      const stanceRows = live.map(stanceRowOf);
      return this.divergenceAnswer(c, plan, stanceRows, stanceRows, new Map(), freshness);
    }
    return this.db.read(async (r) => {
      const c = await this.ctx(r, q);
      const stanceRows = await this.stanceRows(c, [...new Set([...plan.js, plan.ref])], this.dimensions);
      const freshness = await this.freshness(r, c.t.model);
      const points = plan.stored ? await this.seekPoints(c, plan.series) : new Map<string, { payload: string; vt: string; causedBy: string[] }>();
      return this.divergenceAnswer(c, plan, stanceRows, stanceRows, points, freshness);
    });
  }

  /** The answer from what was read: `coded` for coverage, `stanceRows` for the computed path, `points` for the stored one. */
  private divergenceAnswer(
    c: Ctx,
    plan: ReturnType<Queries['divergencePlan']>,
    coded: readonly CodedKey[],
    stanceRows: readonly StanceRow[],
    points: ReadonlyMap<string, { readonly payload: string }>,
    freshness: Freshness,
  ): DivergenceResult {
    const { js, dims, variant, weights, ref, dim } = plan;
    const versions = { codebookVersion: this.codebook.version, methodologyVersion: this.codebook.methodologyVersion };
    const coverage = this.coverage(coded, js, dims ?? this.dimensions);
    const base = { asOf: c.asOf, knownAt: c.knownAt, ...versions, jurisdictions: js, dimension: dims ? dims.join(',') : null, variant, weights, coverage };
    if (plan.stored) {
      const emptyPair = emptyPayload(this.codebook, 'pair', dim);
      const pairOf = (a: string, b: string) => expandPair(this.codebook, parseJson<PairPayload>(points.get(pairSeries(a, b, dim))?.payload ?? emptyPair), dim);
      const pairViews: PairView[] = plan.pairs.map(([a, b]) => ({ a, b, ...pairOf(a, b), ...versions }));
      const global = plan.storedGlobal ? parseJson<GlobalPayload>(points.get(globalSeries(dim))?.payload ?? emptyPayload(this.codebook, 'global', dim)) : aggregateOf(pairViews);
      const reference = plan.refPairs.map((j) => ({ jurisdiction: j, value: pairOf(j, ref).value }));
      return {
        ...base,
        pairs: pairViews,
        global: { ...global, ...versions },
        coverage,
        ...(reference.some((x) => x.value !== null) ? { reference } : {}),
        source: 'change-points',
        freshness,
      };
    }
    const profiles = this.profiles(stanceRows, variant);
    const opts: IndexOptions = { weights, variant, ...(dims ? { dimensions: dims } : {}) };
    const entries = pairMatrix(this.codebook, profiles, js, opts);
    const agg = aggregateIndex(entries);
    const reference = distanceToReference(this.codebook, profiles, js, ref, opts).map((x) => ({ jurisdiction: x.jurisdiction, value: x.index.value }));
    return {
      ...base,
      pairs: entries.map((e) => ({ a: e.a, b: e.b, value: e.index.value, band: e.index.band, coverage: e.index.coverage, ...versions })),
      global: { value: agg.value, dispersion: agg.dispersion, pairs: agg.pairs, pairsWithoutOverlap: agg.pairsWithoutOverlap, meanCoverage: agg.meanCoverage, ...versions },
      ...(reference.some((x) => x.value !== null) ? { reference } : {}),
      source: 'computed',
      freshness,
    };
  }

  /** A stored series as known at knownAt, between from and to (the point in force at `from` first). */
  private async readSeries(c: Ctx, series: string, from: string, to: string, limit: number): Promise<{ vt: string; payload: string; causedBy: string[] }[]> {
    const k = c.knownAt === null ? '' : ' AND kt <= ?';
    const kp = c.knownAt === null ? [] : [c.knownAt];
    const anchor = await c.r.query<{ vt: string; kt: string; payload: string; caused_by: string }>(
      `SELECT vt, kt, payload, caused_by FROM ${c.t.divPoints} WHERE series = ? AND vt <= ?${k} ORDER BY vt DESC, kt DESC LIMIT 1`,
      [series, from, ...kp],
    );
    const rest = await c.r.query<{ vt: string; kt: string; payload: string; caused_by: string }>(
      `SELECT vt, kt, payload, caused_by FROM ${c.t.divPoints} WHERE series = ? AND vt > ? AND vt <= ?${k} ORDER BY vt, kt LIMIT ${limit * 4}`,
      [series, from, to, ...kp],
    );
    const byVt = new Map<string, { vt: string; kt: string; payload: string; causedBy: string[] }>();
    for (const row of [...anchor, ...rest]) {
      const cur = byVt.get(row.vt);
      if (!cur || cur.kt < row.kt) byVt.set(row.vt, { vt: row.vt, kt: row.kt, payload: row.payload, causedBy: parseJson<string[]>(row.caused_by) });
    }
    const out: { vt: string; payload: string; causedBy: string[] }[] = [];
    for (const p of [...byVt.values()].sort((x, y) => cmp(x.vt, y.vt))) {
      if (out.length > 0 && out[out.length - 1]?.payload === p.payload) continue;
      out.push(p);
    }
    return dropLeadingEmpty(out, series.startsWith('pair:') ? emptyPayload(this.codebook, 'pair', series.slice(series.lastIndexOf(':') + 1)) : null).slice(0, limit);
  }

  /** A pair's series: stored change points for the stored jurisdictions, computed from the stance matrix otherwise. */
  private pairPoints(c: Ctx, a: string, b: string, dim: string, from: string, to: string, limit: number, recompute = false): Promise<{ vt: string; payload: string; causedBy: string[] }[]> {
    const stored = new Set(storedJurisdictions(this.codebook));
    return !recompute && stored.has(a) && stored.has(b) ? this.readSeries(c, pairSeries(a, b, dim), from, to, limit) : this.computedPairSeries(c, a, b, dim, from, to, limit);
  }

  /**
   * A pair's series computed from the stance matrix as known at knownAt: the index at every valid time
   * where a coding of either side starts or ends, kept where it changes. Its cost follows the pair's own
   * codings up to `to`, not the length of the log. `causedBy` names the codings taking effect there.
   */
  private async computedPairSeries(c: Ctx, a: string, b: string, dim: string, from: string, to: string, limit: number): Promise<{ vt: string; payload: string; causedBy: string[] }[]> {
    const dims = dim === AGGREGATE ? this.dimensions : [dim];
    const k = this.known(c);
    const rows = await c.r.query<StanceRow>(
      `SELECT jurisdiction, dimension, vt_from, vt_to, event_id, codebook_version, payload FROM ${c.t.stances}
       WHERE jurisdiction IN (?, ?) AND dimension IN (${placeholders(dims.length)}) AND vt_from <= ? AND ${k.sql} ORDER BY vt_from`,
      [a, b, ...dims, to, ...k.params],
    );
    const byKey = new Map<string, { vts: string[]; rows: StanceRow[] }>();
    const instants = new Set<string>();
    for (const row of rows) {
      const key = `${row.jurisdiction}\u0000${row.dimension}`;
      const e = byKey.get(key) ?? { vts: [], rows: [] };
      e.vts.push(row.vt_from);
      e.rows.push(row);
      byKey.set(key, e);
      instants.add(row.vt_from);
      if (row.vt_to !== INF && row.vt_to <= to) instants.add(row.vt_to);
    }
    const empty = emptyPayload(this.codebook, 'pair', dim);
    const points: { vt: string; payload: string; causedBy: string[] }[] = [];
    let last = empty;
    for (const vt of [...instants].sort(cmp)) {
      const live: StanceRow[] = [];
      for (const e of byKey.values()) {
        const row = e.rows[indexAt(e.vts, vt)];
        if (row && row.vt_to > vt) live.push(row);
      }
      const profiles = this.profiles(live);
      const text = payloadText(pairPayload(this.codebook, profiles.get(a) ?? new Map(), profiles.get(b) ?? new Map(), dim));
      if (text === last) continue;
      last = text;
      points.push({ vt, payload: text, causedBy: [...new Set(live.filter((r) => r.vt_from === vt).map((r) => r.event_id))].sort() });
    }
    let start = 0;
    for (let i = 0; i < points.length; i++) if ((points[i] as { vt: string }).vt <= from) start = i;
    return dropLeadingEmpty(points.slice(start), empty).slice(0, limit);
  }

  async series(q: { knownAt?: string; model?: string; jurisdictions?: readonly string[]; dimension?: string; a?: string; b?: string; from?: string; to?: string; limit?: number;
    /** A pair's series from the stance matrix even where points are stored (audits the stored points). */
    recompute?: boolean;
  }): Promise<SeriesResult> {
    return this.db.read(async (r) => {
      const c = await this.ctx(r, { ...(q.knownAt !== undefined ? { knownAt: q.knownAt } : {}), ...(q.model !== undefined ? { model: q.model } : {}) });
      const dim = q.dimension ?? AGGREGATE;
      const from = q.from === undefined ? NEG_INF : norm(q.from);
      const to = q.to === undefined ? INF : norm(q.to);
      const limit = Math.min(Math.max(q.limit ?? 5000, 1), 20000);
      const versions = { codebookVersion: this.codebook.version, methodologyVersion: this.codebook.methodologyVersion };
      const head = { dimension: q.dimension ?? null, knownAt: c.knownAt, from: q.from === undefined ? null : from, to: q.to === undefined ? null : to, ...versions };
      const freshness = await this.freshness(r, c.t.model);
      if (q.a !== undefined && q.b !== undefined) {
        const [a, b] = q.a < q.b ? [q.a, q.b] : [q.b, q.a];
        const pts = await this.pairPoints(c, a, b, dim, from, to, limit, q.recompute === true);
        return {
          scope: 'pair',
          jurisdictions: [a, b],
          a,
          b,
          ...head,
          points: pts.map((p) => ({ validFrom: p.vt, value: parseJson<PairPayload>(p.payload).value, dispersion: null, causedBy: p.causedBy })),
          freshness,
        };
      }
      const js = [...new Set(q.jurisdictions?.length ? q.jurisdictions : DEFAULT_JURISDICTIONS)].sort();
      if (dim === AGGREGATE && sameSet(js, DEFAULT_JURISDICTIONS)) {
        const pts = await this.readSeries(c, globalSeries(dim), from, to, limit);
        return {
          scope: 'global',
          jurisdictions: js,
          ...head,
          points: pts.map((p) => {
            const g = parseJson<GlobalPayload>(p.payload);
            return { validFrom: p.vt, value: g.value, dispersion: g.dispersion, causedBy: p.causedBy };
          }),
          freshness,
        };
      }
      // Another set, or one dimension: merge the pairs' stored series and aggregate at every change point.
      const pairs: [string, string][] = [];
      for (let i = 0; i < js.length; i++) for (let j = i + 1; j < js.length; j++) pairs.push([js[i] as string, js[j] as string]);
      const perPair = await Promise.all(pairs.map(([a, b]) => this.pairPoints(c, a, b, dim, from, to, limit)));
      const vts = [...new Set(perPair.flatMap((ps) => ps.map((p) => p.vt)))].sort(cmp);
      const emptyPair = emptyPayload(this.codebook, 'pair', dim);
      const points: SeriesPoint[] = [];
      let last = '';
      for (const vt of vts) {
        const causes = new Set<string>();
        const views = perPair.map((ps) => {
          let cur: { vt: string; payload: string; causedBy: string[] } | undefined;
          for (const p of ps) if (p.vt <= vt) cur = p;
          if (cur?.vt === vt) cur.causedBy.forEach((x) => causes.add(x));
          return parseJson<PairPayload>(cur?.payload ?? emptyPair);
        });
        const agg = aggregateOf(views);
        const sig = JSON.stringify([agg.value, agg.dispersion]);
        if (sig === last) continue;
        last = sig;
        points.push({ validFrom: vt, value: agg.value, dispersion: agg.dispersion, causedBy: [...causes].sort() });
      }
      return { scope: 'global', jurisdictions: js, ...head, points: points.slice(0, limit), freshness };
    });
  }
}

/**
 * A series does not start with "nothing coded": such a point is stored where a value known earlier was
 * later retracted, and says nothing a reader of the series (or a computed one) would show.
 */
function dropLeadingEmpty<P extends { payload: string }>(points: P[], empty: string | null): P[] {
  return empty !== null && points[0]?.payload === empty ? points.slice(1) : points;
}

/** A model's id from its name in a request (`v2`, or `eu2024` for `x_eu2024`); only ids that are safe in table names. */
function modelIdOf(model: string): string {
  const id = MODEL_ID.test(model) ? model : `x_${model}`;
  if (!MODEL_ID.test(id)) throw new UnknownModelError(model);
  return id;
}

/** A model still being built (or whose build failed) does not answer. */
function checkStatus(model: string, status: string | null | undefined): void {
  if (status === undefined || status === null || status === 'failed' || status === 'building') throw new UnknownModelError(model);
}

/**
 * One index seek per key (PostgreSQL): the keys as arrays, each row of `unnest` joined laterally to
 * `inner`, whose parameters follow the keys'.
 */
function seekSql(keys: readonly (readonly string[])[], width: number, inner: (key: (i: number) => string) => string, params: readonly unknown[]): { sql: string; params: unknown[] } {
  const cols = Array.from({ length: width }, (_, i) => `k${i}`);
  return {
    sql: `SELECT s.* FROM unnest(${cols.map(() => '?::text[]').join(', ')}) AS k(${cols.join(', ')}) CROSS JOIN LATERAL (${inner((i) => `k.k${i}`)}) s`,
    params: [...cols.map((_, i) => keys.map((k) => k[i])), ...params],
  };
}

function pointMap(rows: readonly { series: string; vt: string; payload: string; caused_by: string }[]): Map<string, { payload: string; vt: string; causedBy: string[] }> {
  return new Map(rows.map((x) => [x.series, { payload: x.payload, vt: x.vt, causedBy: parseJson<string[]>(x.caused_by) }]));
}

function titleMap(rows: readonly { instrument_id: string; payload: string }[]): Map<string, string> {
  return new Map(rows.map((row) => [row.instrument_id, parseJson<{ titles: { en: string } }>(row.payload).titles.en]));
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().every((x, i) => x === [...b].sort()[i]);
}

function aggregateOf(pairs: readonly { value: number | null; weightShare?: number; coverage?: { weightShare: number } }[]): GlobalPayload {
  const agg = aggregateIndex(
    pairs.map((p) => ({
      a: '',
      b: '',
      index: {
        value: p.value,
        band: null,
        coverage: { covered: [], missing: [], weightShare: p.coverage?.weightShare ?? p.weightShare ?? 0 },
        perDimension: [],
        codebookVersion: '',
        methodologyVersion: '',
        weights: 'codebook' as const,
      },
    })),
  );
  return { value: agg.value, dispersion: agg.dispersion, pairs: agg.pairs, pairsWithoutOverlap: agg.pairsWithoutOverlap, meanCoverage: agg.meanCoverage };
}
