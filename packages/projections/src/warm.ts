import { randomUUID } from 'node:crypto';
import { internGeneration, type StanceLedger } from './compute/ledger';
import { type StanceSweep } from './compute/stances';
import { type Fact, factFromRow, type FactRow } from './facts';
import type { Reader, Unit } from './sql';
import type { ModelTables } from './tables';

export const MODEL_TOKENS = 'rm_model_tokens';

const isAmendment = (f: Fact) => f.cat === 'correction' || f.cat === 'retraction';

/**
 * What a live projector keeps of one model between batches: every stance coding and every correction
 * or retraction, and the divergence ledger as known before the latest epoch. Without it each batch
 * read, parsed and replayed the whole stance history (the live lag grew with the history, see
 * docs/benchmarks.md). It is trusted only while the model's apply token (`rm_model_tokens`, rotated by
 * every transaction that adds facts) is the one this process wrote: another process's batch, a rolled
 * back transaction or a recreated model all show up as a different token, and the state is reloaded.
 */
export class WarmModel {
  /** The token the state matches; null while it is being changed or after a failure. */
  token: string | null = null;
  readonly codings = new Map<string, Fact>();
  private readonly byJurisdiction = new Map<string, Fact[]>();
  /** Target id → its corrections and retractions (of any target category: the target may come later). */
  readonly amendments = new Map<string, Fact[]>();
  private readonly amendmentIds = new Set<string>();
  /** Every stance and amendment fact, in arrival order. */
  readonly all: Fact[] = [];
  /**
   * The divergence sweep's ledger holding exactly the stored jurisdictions' codings and every
   * amendment known before `below`; a batch whose facts are all known at or after it resumes from a copy.
   */
  divBase: { below: string; ledger: StanceLedger; generation: number } | null = null;
  /** One ledger per in-scope epoch from divBase.below on, each holding everything known up to it (see resumeRecent). */
  divRecent: RecentEpoch[] | null = null;
  /** The earliest valid time the in-scope facts known from `kMin` on can change, while `recent` is `divRecent` (see epochVtMin in engine.ts). */
  vtMinCache: { kMin: string; recent: RecentEpoch[] | null; vt: string | null } | null = null;
  /** Per jurisdiction, its stance-row sweep after every epoch before `horizon` (see StanceSweep). */
  readonly stanceStates = new Map<string, StanceState>();
  /** Facts by known time, and the distinct known times in order: what a batch resumes over is a seek. */
  private readonly byKt = new Map<string, Fact[]>();
  private readonly kts: string[] = [];

  /** The interned-id generation the derived states (ledgers, sweeps) were built in. */
  generation = internGeneration();

  /** Drops what is derived from the facts (rebuilt on demand); the facts stay. */
  dropDerived(): void {
    this.divBase = null;
    this.divRecent = null;
    this.vtMinCache = null;
    this.stanceStates.clear();
    this.generation = internGeneration();
  }

  constructor(
    readonly model: string,
    readonly stats: WarmStats = { hits: 0, loads: 0, baseResumed: 0, baseBuilt: 0, baseLatest: 0, vtMinLatest: 0, stancesLatest: 0, stancesResumed: 0, stancesBuilt: 0 },
  ) {}

  get size(): number {
    return this.all.length;
  }

  add(f: Fact): void {
    if (f.cat !== 'stance' && !isAmendment(f)) return;
    // A fact known before a resumable state's horizon, which that state lacks (a backfilled coding, an
    // amendment whose coding came later): the state no longer holds exactly what was known before it.
    // A coding whose amendments came first: they were out of scope then, and the divergence ledgers
    // (after folding recent epochs into the base) may lack them.
    const pendingCoding = f.cat === 'stance' && this.amendments.has(f.eventId);
    if (this.divBase !== null && (f.kt < this.divBase.below || pendingCoding)) {
      this.divBase = null;
      this.divRecent = null;
      this.vtMinCache = null;
    }
    const j = f.cat === 'stance' ? f.jurisdiction : f.targetEventId !== null ? (this.codings.get(f.targetEventId)?.jurisdiction ?? undefined) : null;
    // A coding brings along the amendments that came before it: a jurisdiction's sweep holds only
    // amendments of codings it knew, so one known before the horizon is missing from it too.
    // Likewise the `after` ledger holds only amendments of codings it knew: a coding with amendments
    // already here drops its jurisdiction's state.
    const pending = f.cat === 'stance' && this.amendments.has(f.eventId);
    for (const [k, st] of this.stanceStates) if ((f.kt < st.horizon || pending) && (j === undefined || j === k)) this.stanceStates.delete(k);
    if (f.cat === 'stance') {
      if (this.codings.has(f.eventId)) return;
      this.codings.set(f.eventId, f);
      if (f.jurisdiction !== null) {
        const list = this.byJurisdiction.get(f.jurisdiction);
        if (list) list.push(f);
        else this.byJurisdiction.set(f.jurisdiction, [f]);
      }
      this.push(f);
    } else if (f.targetEventId !== null) {
      if (this.amendmentIds.has(f.eventId)) return;
      this.amendmentIds.add(f.eventId);
      const list = this.amendments.get(f.targetEventId);
      if (list) list.push(f);
      else this.amendments.set(f.targetEventId, [f]);
      this.push(f);
    }
  }

  private push(f: Fact): void {
    this.all.push(f);
    const list = this.byKt.get(f.kt);
    if (list) {
      list.push(f);
      return;
    }
    this.byKt.set(f.kt, [f]);
    // Known times mostly arrive in order: appending is the common case.
    let i = this.kts.length;
    while (i > 0 && (this.kts[i - 1] as string) > f.kt) i--;
    this.kts.splice(i, 0, f.kt);
  }

  /** The facts known in [from, to) (to null: no end). */
  knownIn(from: string, to: string | null): Fact[] {
    let lo = 0;
    let hi = this.kts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.kts[mid] as string) < from) lo = mid + 1;
      else hi = mid;
    }
    const out: Fact[] = [];
    for (let i = lo; i < this.kts.length; i++) {
      const k = this.kts[i] as string;
      if (to !== null && k >= to) break;
      out.push(...(this.byKt.get(k) ?? []));
    }
    return out;
  }

  /** The jurisdiction a fact is about: its own for a coding, its target coding's for an amendment. */
  jurisdictionOf(f: Fact): string | null {
    if (f.cat === 'stance') return f.jurisdiction;
    return f.targetEventId === null ? null : (this.codings.get(f.targetEventId)?.jurisdiction ?? null);
  }

  /** The latest known time of any fact held, or null. */
  latestKt(): string | null {
    return this.kts[this.kts.length - 1] ?? null;
  }

  /** The jurisdictions with codings. */
  jurisdictions(): string[] {
    return [...this.byJurisdiction.keys()].sort();
  }

  codingsOf(jurisdiction: string): readonly Fact[] {
    return this.byJurisdiction.get(jurisdiction) ?? [];
  }

  /** The codings of some jurisdictions and every correction or retraction of them. */
  scope(jurisdictions: Iterable<string>): Fact[] {
    const out: Fact[] = [];
    for (const j of jurisdictions) {
      for (const c of this.codingsOf(j)) {
        out.push(c);
        const a = this.amendments.get(c.eventId);
        if (a) out.push(...a);
      }
    }
    return out;
  }
}

/** A recent epoch of the divergence sweep: the ledger as known after it, and the coding ids its facts touched with their amendments. */
export interface RecentEpoch {
  readonly epoch: string;
  readonly ledger: StanceLedger;
  readonly touched: Set<string>;
  readonly amendedBy: Map<string, string[]>;
}

/** A jurisdiction's stance rows, resumable: `sweep` has swept every epoch before `horizon`. */
export interface StanceState {
  readonly horizon: string;
  readonly sweep: StanceSweep;
  /** One ledger per epoch of the jurisdiction from `horizon` on, each holding everything known up to it. */
  readonly recent: { readonly epoch: string; readonly ledger: StanceLedger }[];
}

/** The warm models of one projector (one per database connection pool: never shared between databases). */
export interface WarmStats {
  /** Batches served from memory, and loads from the database (first batch, another writer, a failure). */
  hits: number;
  loads: number;
  /** Divergence ledgers resumed from the previous horizon, and built from the beginning. */
  baseResumed: number;
  baseBuilt: number;
  /** Divergence sweeps resumed from the recent epochs' ledgers, applying only the batch's facts (live batches). */
  baseLatest: number;
  /** Earliest affected valid times moved by the batch's own facts instead of the whole recent epoch's (epochVtMin). */
  vtMinLatest: number;
  /** Stance rows per jurisdiction and batch: added to the latest epoch, resumed from an earlier one, built from the beginning. */
  stancesLatest: number;
  stancesResumed: number;
  stancesBuilt: number;
}

export class WarmModels {
  private readonly models = new Map<string, WarmModel>();
  readonly stats: WarmStats = { hits: 0, loads: 0, baseResumed: 0, baseBuilt: 0, baseLatest: 0, vtMinLatest: 0, stancesLatest: 0, stancesResumed: 0, stancesBuilt: 0 };
  /** Models found over the limit, with the token written since (rotated by this process). */
  private readonly oversized = new Map<string, string>();

  /** @param limit facts kept per model; a larger model is served cold (read per batch), bounding memory. */
  constructor(readonly limit = 400_000) {}

  /**
   * The model's warm state, valid for the caller's transaction, which must hold the model's apply lock:
   * reloaded when its token is not the stored one. Null when the model is over the limit.
   */
  async acquire(r: Reader, t: ModelTables, read?: { readonly token: string | null }): Promise<WarmModel | null> {
    if (this.limit <= 0) return null;
    // The caller may have read the token already (with other things, in one statement after the lock).
    const row = read ? (read.token === null ? undefined : { token: read.token }) : (await r.query<{ token: string }>(`SELECT token FROM ${MODEL_TOKENS} WHERE model = ?`, [t.model]))[0];
    const current = this.models.get(t.model);
    // A model never written since its tables were made by the migration has no token row: ''.
    if (current && current.token !== null && current.token === (row?.token ?? '')) {
      this.stats.hits += 1;
      // Interned coding ids were reassigned (resetInternsIfLarge): the derived states hold codings whose
      // short ids may now collide with new ones.
      if (current.generation !== internGeneration()) current.dropDerived();
      return current;
    }
    // Found too large at this very token (by this process): no need to count again.
    if (row !== undefined && this.oversized.get(t.model) === row.token) return null;
    this.models.delete(t.model);
    this.oversized.delete(t.model);
    const [count] = await r.query<{ n: number | string }>(`SELECT count(*) AS n FROM ${t.facts} WHERE cat IN ('stance', 'correction', 'retraction')`);
    if (Number(count?.n ?? 0) > this.limit) {
      this.oversized.set(t.model, '');
      return null;
    }
    const rows = await r.query<FactRow>(`SELECT * FROM ${t.facts} WHERE cat IN ('stance', 'correction', 'retraction') ORDER BY position, event_id`);
    this.stats.loads += 1;
    const warm = new WarmModel(t.model, this.stats);
    for (const f of rows) warm.add(factFromRow(f));
    warm.token = row?.token ?? '';
    this.models.set(t.model, warm);
    return warm;
  }

  /** After the caller's changes are written: the new token, written in the same transaction. */
  release(u: Unit, warm: WarmModel | null, t: ModelTables): void {
    const token = rotateToken(u, t.model);
    if (warm && warm.size > this.limit) {
      // Grown past the limit with this batch: from now on served cold.
      this.models.delete(t.model);
      this.oversized.set(t.model, token);
    } else if (warm) warm.token = token;
    else if (this.oversized.has(t.model)) this.oversized.set(t.model, token);
  }

}

/** Marks a model's facts as changed for every warm state (in the writing transaction). */
export function rotateToken(u: Unit, model: string): string {
  const token = randomUUID();
  u.write(`INSERT INTO ${MODEL_TOKENS} (model, token) VALUES (?, ?) ON CONFLICT (model) DO UPDATE SET token = excluded.token`, [model, token]);
  return token;
}

export function modelTokensDdl(dialect: 'postgres' | 'sqlite'): string {
  const text = dialect === 'postgres' ? 'text COLLATE "C"' : 'TEXT';
  return `CREATE TABLE IF NOT EXISTS ${MODEL_TOKENS} (model ${text} PRIMARY KEY, token ${text} NOT NULL)`;
}
