import type { Codebook, StoredEvent } from '@regstream/domain';
import { APPLICABILITY_COLUMNS, applicabilityRows } from './compute/applicability';
import { AGGREGATE, DEFAULT_JURISDICTIONS, DIV_COLUMNS, type DivPoint, divergenceSweep, type ResumedEpoch, divRow, earliestAffected, globalSeries, pairSeries, type PriorPoint, storedJurisdictions } from './compute/divergence';
import { internGeneration, resetInternsIfLarge, StanceLedger } from './compute/ledger';
import { segmentIdentity, STANCE_COLUMNS, stanceRows, StanceSweep } from './compute/stances';
import { INSTRUMENT_COLUMNS, instrumentRows, MILESTONE_COLUMNS, milestoneRows } from './compute/versions';
import { type Fact, FACT_COLUMNS, factFromRow, type FactRow, factRow, posCmp, prepareFact } from './facts';
import { canonical } from './json';
import { modelIndexDdl } from './schema';
import { inList, type Reader, type Unit } from './sql';
import { chunks, type ModelTables, placeholders, tablesOf } from './tables';
import { NEG_INF, tryNorm } from './time';
import { MODEL_TOKENS, type RecentEpoch, rotateToken, type WarmModel, type WarmModels } from './warm';

export interface ApplyOptions {
  readonly model: string;
  readonly codebook: Codebook;
  /** Runs before each event's handler; throwing makes the event a poison event (used by tests and fault injection). */
  readonly beforeApply?: (e: StoredEvent) => void;
  /** The caller's warm models (a live projector's): stance history kept in memory between batches. */
  readonly warm?: WarmModels;
}

export interface FailedEvent {
  readonly event: StoredEvent;
  readonly error: string;
}

export interface ApplyResult {
  readonly applied: Fact[];
  readonly duplicates: number;
  readonly failed: FailedEvent[];
  /** Earliest known time from which divergence points were rewritten, or null. */
  readonly divergenceFrom: string | null;
}

const EVENT_KEYED = new Set(['registration', 'milestone', 'applicability']);

async function selectFacts(r: Reader, t: ModelTables, column: string, values: readonly string[], extra = ''): Promise<Fact[]> {
  const out: Fact[] = [];
  for (const part of inList(r.dialect, column, values)) {
    const rows = await r.query<FactRow>(`SELECT * FROM ${t.facts} WHERE ${part.sql}${extra}`, part.params);
    for (const row of rows) out.push(factFromRow(row));
  }
  return out;
}

function mergeFacts(...lists: readonly (readonly Fact[])[]): Fact[] {
  const m = new Map<string, Fact>();
  for (const l of lists) for (const f of l) if (!m.has(f.eventId)) m.set(f.eventId, f);
  return [...m.values()];
}

function groupByTarget(amendments: readonly Fact[]): Map<string, Fact[]> {
  const m = new Map<string, Fact[]>();
  for (const a of amendments) {
    if (a.targetEventId === null) continue;
    m.set(a.targetEventId, [...(m.get(a.targetEventId) ?? []), a]);
  }
  return m;
}

const isAmendment = (f: Fact) => f.cat === 'correction' || f.cat === 'retraction';

/** Instrument → the jurisdiction of its registration (the earliest logged one, should there be several). */
function jurisdictionMap(registrations: readonly Fact[]): Map<string, string> {
  const best = new Map<string, Fact>();
  for (const r of registrations) {
    if (r.instrumentId === null || r.jurisdiction === null) continue;
    const cur = best.get(r.instrumentId);
    if (!cur || posCmp(r.position, cur.position) < 0) best.set(r.instrumentId, r);
  }
  return new Map([...best].map(([i, f]) => [i, f.jurisdiction as string]));
}

/**
 * The facts targeting some events (their corrections and retractions) and the registrations of some
 * instruments: one statement on PostgreSQL (a live batch pays a round trip per read), two on SQLite.
 */
interface RelatedFacts {
  readonly amendments: Fact[];
  readonly registrations: Fact[];
  /** The stored applicability facts of the instruments asked for, and the amendments of them and of `applicability.batchBases`. */
  readonly applicability: { readonly bases: Fact[]; readonly related: Fact[] } | null;
}

/**
 * What a live batch reads about the keys it touches, in one statement on PostgreSQL: the amendments
 * of its event-keyed facts, the registrations of its instruments and, when it touches applicability,
 * those instruments' applicability facts and their amendments.
 */
async function relatedFacts(
  r: Reader,
  t: ModelTables,
  targets: readonly string[],
  instruments: readonly string[],
  applicability: { readonly instruments: readonly string[]; readonly batchBases: readonly string[] } | null,
): Promise<RelatedFacts> {
  if (r.dialect !== 'postgres') {
    return {
      amendments: await selectFacts(r, t, 'target_event_id', targets),
      registrations: await selectFacts(r, t, 'instrument_id', instruments, ` AND cat = 'registration'`),
      applicability: null,
    };
  }
  const parts: string[] = [];
  const params: unknown[] = [];
  if (targets.length > 0) {
    parts.push(`SELECT 'a' AS which, * FROM ${t.facts} WHERE target_event_id = ANY(?::text[])`);
    params.push([...new Set(targets)]);
  }
  if (instruments.length > 0) {
    parts.push(`SELECT 'r' AS which, * FROM ${t.facts} WHERE instrument_id = ANY(?::text[]) AND cat = 'registration'`);
    params.push([...new Set(instruments)]);
  }
  if (applicability && applicability.instruments.length > 0) {
    const bases = `SELECT event_id FROM ${t.facts} WHERE instrument_id = ANY(?::text[]) AND cat = 'applicability'`;
    parts.push(`SELECT 'b' AS which, * FROM ${t.facts} WHERE instrument_id = ANY(?::text[]) AND cat = 'applicability'`);
    // Two parts, not one with OR: PostgreSQL does not use the target index for an OR of the two.
    parts.push(`SELECT 'c' AS which, * FROM ${t.facts} WHERE target_event_id IN (${bases})`);
    parts.push(`SELECT 'c' AS which, * FROM ${t.facts} WHERE target_event_id = ANY(?::text[])`);
    const ins = [...new Set(applicability.instruments)];
    params.push(ins, ins, [...new Set(applicability.batchBases)]);
  }
  const out: RelatedFacts = { amendments: [], registrations: [], applicability: applicability ? { bases: [], related: [] } : null };
  if (parts.length === 0) return out;
  const rows = await r.query<FactRow & { which: string }>(parts.join('\n UNION ALL '), params);
  for (const row of rows) {
    const f = factFromRow(row);
    if (row.which === 'a') out.amendments.push(f);
    else if (row.which === 'r') out.registrations.push(f);
    else if (row.which === 'b') out.applicability?.bases.push(f);
    else out.applicability?.related.push(f);
  }
  if (out.applicability) out.applicability.related.splice(0, Infinity, ...mergeFacts(out.applicability.related));
  return out;
}

export async function existingIds(r: Reader, t: ModelTables, ids: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const part of inList(r.dialect, 'event_id', ids)) {
    const rows = await r.query<{ event_id: string }>(`SELECT event_id FROM ${t.facts} WHERE ${part.sql}`, part.params);
    for (const row of rows) out.add(row.event_id);
  }
  return out;
}

/**
 * Applies events to a model: each new event (by id) becomes a fact, and every read-model key it
 * touches is recomputed from the facts of that key. Read models are thus functions of the set of
 * facts, whatever the order or interleaving in which events arrive.
 */
export async function applyEvents(u: Unit, events: readonly StoredEvent[], opts: ApplyOptions): Promise<ApplyResult> {
  const t = tablesOf(opts.model);
  // Keys are recomputed from the facts this transaction reads (a jurisdiction's stance rows, an
  // instrument's applicability, an event and its corrections from other streams). Two transactions
  // doing that at once would each miss the other's uncommitted facts and the later commit would win
  // with an incomplete key. Held until commit, this lock makes every reader see the facts of every
  // earlier apply, across partitions and projector processes; what runs in parallel is fetching,
  // parsing and preparing (see docs/benchmarks.md, live lag).
  const applyLock = `apply:${t.model}`;
  const seen = new Set<string>();
  const unique = events.filter((e) => (seen.has(e.id) ? false : (seen.add(e.id), true)));
  let existing: Set<string>;
  let warm: WarmModel | null = null;
  if (opts.warm && u.dialect === 'postgres') {
    // The lock, the model's token and the ids already applied in one round trip.
    const [, found] = await u.queryMany([
      { locks: [applyLock] },
      {
        sql: `SELECT event_id, NULL AS token FROM ${t.facts} WHERE event_id = ANY(?::text[]) UNION ALL SELECT NULL, token FROM ${MODEL_TOKENS} WHERE model = ?`,
        params: [unique.map((e) => e.id), t.model],
      },
    ]);
    const rows = (found ?? []) as { event_id: string | null; token: string | null }[];
    existing = new Set(rows.flatMap((r) => (r.event_id === null ? [] : [r.event_id])));
    const token = rows.find((r) => r.event_id === null)?.token ?? null;
    warm = await opts.warm.acquire(u, t, { token });
  } else {
    await u.lock(applyLock);
    warm = opts.warm ? await opts.warm.acquire(u, t) : null;
    existing = await existingIds(u, t, unique.map((e) => e.id));
  }
  const { facts, failed } = prepareAll(
    unique.filter((e) => !existing.has(e.id)),
    opts.beforeApply,
  );
  const duplicates = events.length - facts.length - failed.length;
  if (facts.length === 0) return { applied: [], duplicates, failed, divergenceFrom: null };
  // Not trusted until this transaction's token is known: a throw below leaves it to be reloaded.
  if (warm) warm.token = null;
  writeFacts(u, t, facts);
  for (const f of facts) warm?.add(f);
  const divergenceFrom = await recompute(u, t, facts, opts, warm);
  if (opts.warm) opts.warm.release(u, warm, t);
  else rotateToken(u, t.model);
  return { applied: facts, duplicates, failed, divergenceFrom };
}

/** Validates events into facts; an event whose handler throws is returned as failed (a poison event). */
export function prepareAll(events: readonly StoredEvent[], beforeApply?: (e: StoredEvent) => void): { facts: Fact[]; failed: FailedEvent[] } {
  const facts: Fact[] = [];
  const failed: FailedEvent[] = [];
  for (const e of events) {
    try {
      beforeApply?.(e);
      facts.push(prepareFact(e));
    } catch (err) {
      failed.push({ event: e, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
  }
  return { facts, failed };
}

/**
 * The bulk phase of a rebuild: writes facts and the event-keyed rows of a batch without reading
 * anything back. What depends on other facts (corrections, jurisdictions of instruments registered
 * later, applicability, stances, divergence) is settled once by `finalizeModel`, with the same
 * functions as the incremental path.
 */
export function bulkApply(u: Unit, model: string, facts: readonly Fact[], registered: Map<string, { position: bigint; jurisdiction: string }>): void {
  const t = tablesOf(model);
  rotateToken(u, model);
  for (const f of facts) {
    if (f.cat !== 'registration' || f.instrumentId === null || f.jurisdiction === null) continue;
    const cur = registered.get(f.instrumentId);
    if (!cur || f.position < cur.position) registered.set(f.instrumentId, { position: f.position, jurisdiction: f.jurisdiction });
  }
  writeFacts(u, t, facts);
  u.insertRows(t.instruments, INSTRUMENT_COLUMNS, facts.filter((f) => f.cat === 'registration').flatMap((f) => instrumentRows(f, [])));
  u.insertRows(
    t.milestones,
    MILESTONE_COLUMNS,
    facts
      .filter((f) => f.cat === 'milestone' || f.cat === 'applicability')
      .flatMap((f) => milestoneRows(f, [], f.instrumentId ? (registered.get(f.instrumentId)?.jurisdiction ?? null) : null)),
  );
}

function writeFacts(u: Unit, t: ModelTables, facts: readonly Fact[]): void {
  u.insertRows(t.facts, FACT_COLUMNS, facts.map(factRow), 'ON CONFLICT (event_id) DO NOTHING');
  const js = new Set<string>();
  for (const f of facts) {
    if (f.cat === 'registration' && f.jurisdiction) js.add(`${f.jurisdiction}\u0000instrument`);
    if (f.cat === 'stance' && f.jurisdiction) js.add(`${f.jurisdiction}\u0000stance`);
  }
  u.insertRows(
    t.jurisdictions,
    ['jurisdiction', 'source'],
    [...js].sort().map((k) => k.split('\u0000')),
    'ON CONFLICT (jurisdiction, source) DO NOTHING',
  );
}

async function recompute(u: Unit, t: ModelTables, facts: readonly Fact[], opts: ApplyOptions, warm: WarmModel | null): Promise<string | null> {
  const batch = new Map(facts.map((f) => [f.eventId, f]));
  const amendments = facts.filter(isAmendment);
  const missingTargets = amendments.map((a) => a.targetEventId).filter((id): id is string => id !== null && !batch.has(id));
  const known = new Map<string, Fact>([...(await selectFacts(u, t, 'event_id', missingTargets)), ...facts].map((f) => [f.eventId, f]));
  const targetOf = (a: Fact) => (a.targetEventId === null ? undefined : known.get(a.targetEventId));

  // Event-keyed read models: registrations and milestones, one key per event.
  const eventKeys = new Map<string, Fact>();
  for (const f of facts) if (EVENT_KEYED.has(f.cat)) eventKeys.set(f.eventId, f);
  for (const a of amendments) {
    const tg = targetOf(a);
    if (tg && EVENT_KEYED.has(tg.cat)) eventKeys.set(tg.eventId, tg);
  }
  const applicInstruments = new Set<string>();
  const stanceJurisdictions = new Set<string>();
  let kMin: string | null = null;
  const lower = (k: string) => (kMin === null || k < kMin ? k : kMin);
  for (const f of facts) {
    const subject = isAmendment(f) ? targetOf(f) : f;
    if (!subject) continue;
    if (subject.cat === 'applicability' && subject.instrumentId) applicInstruments.add(subject.instrumentId);
    if (subject.cat === 'stance') {
      if (subject.jurisdiction) stanceJurisdictions.add(subject.jurisdiction);
      kMin = lower(f.kt);
    }
  }

  const newRegistrations = facts.filter((f) => f.cat === 'registration' && f.instrumentId !== null);
  const instrumentIds = new Set<string>([...applicInstruments, ...newRegistrations.map((f) => f.instrumentId as string)]);
  for (const f of eventKeys.values()) if (f.instrumentId) instrumentIds.add(f.instrumentId);
  const batchBases = facts.filter((f) => f.cat === 'applicability' && f.instrumentId !== null && applicInstruments.has(f.instrumentId)).map((f) => f.eventId);
  const found = await relatedFacts(u, t, [...eventKeys.keys()], [...instrumentIds], applicInstruments.size > 0 ? { instruments: [...applicInstruments], batchBases } : null);
  const related = groupByTarget(mergeFacts(amendments, found.amendments));
  const registrations = mergeFacts(newRegistrations, found.registrations);
  const jurisdictionOf = jurisdictionMap(registrations);

  writeEventKeys(u, t, [...eventKeys.values()], related, jurisdictionOf);
  setJurisdictions(u, t, [...new Set(newRegistrations.map((f) => f.instrumentId as string))].sort().map((i) => [i, jurisdictionOf.get(i) ?? null]));

  if (applicInstruments.size > 0) await writeApplicability(u, t, [...applicInstruments], facts, jurisdictionOf, found.applicability ?? undefined);
  if (stanceJurisdictions.size > 0) {
    if (warm && kMin !== null) writeStancesWarm(u, t, [...stanceJurisdictions], facts, warm, kMin);
    else await writeStances(u, t, [...stanceJurisdictions], facts);
  }
  if (kMin !== null) {
    await writeDivergence(u, t, opts.codebook, kMin, facts, stanceJurisdictions, warm);
  }
  return kMin;
}

/** Milestones and applicability carry their instrument's jurisdiction: set it where a registration arrived. */
function setJurisdictions(u: Unit, t: ModelTables, pairs: readonly (readonly [string, string | null])[]): void {
  if (pairs.length === 0) return;
  for (const table of [t.milestones, t.applicability]) {
    if (u.dialect === 'postgres') {
      u.write(
        `UPDATE ${table} m SET jurisdiction = v.j FROM unnest(?::text[], ?::text[]) AS v(i, j) WHERE m.instrument_id = v.i AND m.jurisdiction IS DISTINCT FROM v.j`,
        [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
      );
    } else {
      for (const [i, j] of pairs) u.write(`UPDATE ${table} SET jurisdiction = ? WHERE instrument_id = ? AND jurisdiction IS NOT ?`, [j, i, j]);
    }
  }
}

/** Recomputes registrations and milestones, one key per event, from the event and its corrections and retractions. */
function writeEventKeys(u: Unit, t: ModelTables, keys: readonly Fact[], related: Map<string, Fact[]>, jurisdictionOf: Map<string, string>): void {
  const regKeys = keys.filter((f) => f.cat === 'registration');
  const milestoneKeys = keys.filter((f) => f.cat !== 'registration');
  deleteIn(u, t.instruments, 'event_id', regKeys.map((f) => f.eventId));
  u.insertRows(t.instruments, INSTRUMENT_COLUMNS, regKeys.flatMap((f) => instrumentRows(f, related.get(f.eventId) ?? [])));
  deleteIn(u, t.milestones, 'event_id', milestoneKeys.map((f) => f.eventId));
  u.insertRows(
    t.milestones,
    MILESTONE_COLUMNS,
    milestoneKeys.flatMap((f) => milestoneRows(f, related.get(f.eventId) ?? [], f.instrumentId ? (jurisdictionOf.get(f.instrumentId) ?? null) : null)),
  );
}

function deleteIn(u: Unit, table: string, column: string, values: readonly string[]): void {
  for (const part of inList(u.dialect, column, values)) u.write(`DELETE FROM ${table} WHERE ${part.sql}`, part.params);
}

/** Recomputes the applicability rows of some instruments from all their facts. */
export async function writeApplicability(
  u: Unit,
  t: ModelTables,
  instruments: readonly string[],
  batch: readonly Fact[],
  jurisdictionOf?: Map<string, string>,
  /** The stored facts, when the caller read them already (`relatedFacts`). */
  stored?: { readonly bases: readonly Fact[]; readonly related: readonly Fact[] },
): Promise<void> {
  const set = new Set(instruments);
  const bases = mergeFacts(
    batch.filter((f) => f.cat === 'applicability' && f.instrumentId !== null && set.has(f.instrumentId)),
    stored ? stored.bases : await selectFacts(u, t, 'instrument_id', instruments, ` AND cat = 'applicability'`),
  );
  const ids = new Set(bases.map((b) => b.eventId));
  const related = mergeFacts(
    batch.filter((f) => isAmendment(f) && f.targetEventId !== null && ids.has(f.targetEventId)),
    stored ? stored.related.filter((f) => f.targetEventId !== null && ids.has(f.targetEventId)) : await selectFacts(u, t, 'target_event_id', [...ids]),
  );
  const juris = jurisdictionOf ?? jurisdictionMap(await selectFacts(u, t, 'instrument_id', instruments, ` AND cat = 'registration'`));
  const byInstrument = new Map<string, Fact[]>();
  for (const b of bases) byInstrument.set(b.instrumentId as string, [...(byInstrument.get(b.instrumentId as string) ?? []), b]);
  deleteIn(u, t.applicability, 'instrument_id', instruments);
  const rows: unknown[][] = [];
  for (const i of [...set].sort()) {
    const fs = byInstrument.get(i) ?? [];
    const fIds = new Set(fs.map((f) => f.eventId));
    rows.push(...applicabilityRows(i, fs, related.filter((r) => fIds.has(r.targetEventId as string)), juris.get(i) ?? null));
  }
  u.insertRows(t.applicability, APPLICABILITY_COLUMNS, rows);
}

/**
 * The dimensions a batch can change per jurisdiction: those of its codings and of the codings its
 * corrections and retractions target (and any dimension a correction moves one to). Rows of other
 * dimensions are functions of unchanged facts.
 */
function touchedDimensions(batch: readonly Fact[], targets: ReadonlyMap<string, Fact>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const add = (j: string | null, d: unknown) => {
    if (j === null || typeof d !== 'string') return;
    const set = out.get(j) ?? new Set<string>();
    set.add(d);
    out.set(j, set);
  };
  for (const f of batch) {
    const subject = f.cat === 'stance' ? f : isAmendment(f) && f.targetEventId !== null ? targets.get(f.targetEventId) : undefined;
    if (!subject || subject.cat !== 'stance') continue;
    add(subject.jurisdiction, (subject.event.data as { dimension?: unknown }).dimension);
    if (f.cat === 'correction') add(subject.jurisdiction, (f.event.data as { changes?: { dimension?: unknown } }).changes?.dimension);
  }
  return out;
}

/**
 * Recomputes the stance rows of some jurisdictions from all their codings: every dimension when
 * `batch` is empty (a rebuild), otherwise only the dimensions the batch touches.
 */
export async function writeStances(u: Unit, t: ModelTables, jurisdictions: readonly string[], batch: readonly Fact[]): Promise<void> {
  const set = new Set(jurisdictions);
  const ids: string[] = [];
  for (const part of inList(u.dialect, 'jurisdiction', jurisdictions)) {
    for (const r of await u.query<{ event_id: string }>(`SELECT event_id FROM ${t.facts} WHERE cat = 'stance' AND ${part.sql}`, part.params)) ids.push(r.event_id);
  }
  const codings = mergeFacts(
    batch.filter((f) => f.cat === 'stance' && f.jurisdiction !== null && set.has(f.jurisdiction)),
    await factsById(u, t, ids),
  );
  const codingIds = new Set(codings.map((c) => c.eventId));
  const related = mergeFacts(
    batch.filter((f) => isAmendment(f) && f.targetEventId !== null && codingIds.has(f.targetEventId)),
    await selectFacts(u, t, 'target_event_id', [...codingIds]),
  );
  const targetJ = new Map(codings.map((c) => [c.eventId, c.jurisdiction as string]));
  const touched = batch.length === 0 ? null : touchedDimensions(batch, new Map(codings.map((c) => [c.eventId, c])));
  const rows: unknown[][] = [];
  for (const j of [...set].sort()) {
    const dims = touched?.get(j);
    if (touched !== null && !dims) continue;
    if (dims) {
      const ds = [...dims].sort();
      u.write(`DELETE FROM ${t.stances} WHERE jurisdiction = ? AND dimension IN (${placeholders(ds.length)})`, [j, ...ds]);
    } else u.write(`DELETE FROM ${t.stances} WHERE jurisdiction = ?`, [j]);
    const own = codings.filter((c) => c.jurisdiction === j);
    const all = stanceRows(j, [...own, ...related.filter((r) => targetJ.get(r.targetEventId as string) === j)]);
    rows.push(...(dims ? all.filter((r) => dims.has(r[1] as string)) : all));
  }
  u.insertRows(t.stances, STANCE_COLUMNS, rows);
}


/**
 * `writeStances` for a live batch, from the warm model: per touched jurisdiction its row sweep resumes
 * from the state before `kMin` (kept between batches, advanced over what was known in between), and
 * only the rows still open at kMin or opened since, in the touched dimensions, are rewritten (a row
 * closed before kMin is a function of facts known before it).
 */
function writeStancesWarm(u: Unit, t: ModelTables, jurisdictions: readonly string[], batch: readonly Fact[], warm: WarmModel, kMin: string): void {
  const touched = touchedDimensions(batch, warm.codings);
  const rows: unknown[][] = [];
  let since: Fact[] | null = null;
  for (const j of [...new Set(jurisdictions)].sort()) {
    const mine = batch.filter((f) => warm.jurisdictionOf(f) === j);
    const dims = touched.get(j);
    if (!dims) {
      // Facts of the jurisdiction that change no dimension: the state would not hold them.
      if (mine.length > 0) warm.stanceStates.delete(j);
      continue;
    }
    const ds = [...dims].sort();
    const first = mine.reduce((m, f) => (f.kt < m ? f.kt : m), mine[0]?.kt ?? kMin);
    const st = warm.stanceStates.get(j);
    if (st && st.horizon <= first && mine.length > 0) {
      // The live case: the batch adds to the state's recent epochs (or after them). The rows it had
      // written from `first` on are recomputed from the state before the batch and compared with the
      // new ones: only the difference is written (a dimension's open rows are its whole timeline).
      // Rows whose valid time ends before anything the batch touches are the same before and after it.
      const lo = earliestAffectedWarm(warm, mine);
      const old = new Map(st.sweep.segmentsAcross(st.recent, dims, first, lo).map((x) => [segmentIdentity(x), x]));
      for (const { epoch, facts } of StanceLedger.epochs(mine)) {
        let i = st.recent.findIndex((r) => r.epoch >= epoch);
        if (i < 0 || (st.recent[i] as { epoch: string }).epoch !== epoch) {
          const at = i < 0 ? st.recent.length : i;
          st.recent.splice(at, 0, { epoch, ledger: (st.recent[at - 1]?.ledger ?? st.sweep.state).clone() });
          i = at;
        }
        for (let k = i; k < st.recent.length; k++) (st.recent[k] as { ledger: StanceLedger }).ledger.apply(epoch, facts);
      }
      const keep = new Set<string>();
      for (const x of st.sweep.segmentsAcross(st.recent, dims, first, lo)) {
        const id = segmentIdentity(x);
        if (old.has(id)) keep.add(id);
        else rows.push(st.sweep.row(x));
      }
      const gone = [...old].filter(([id]) => !keep.has(id)).map(([, x]) => [j, x.seg.dimension, x.ktFrom, x.seg.vtFrom]);
      for (const c of chunks(gone, 250)) {
        u.write(`DELETE FROM ${t.stances} WHERE (jurisdiction, dimension, kt_from, vt_from) IN (${c.map(() => '(?, ?, ?, ?)').join(', ')})`, c.flat());
      }
      foldStanceState(warm, j, first);
      warm.stats.stancesLatest += 1;
      continue;
    }
    let sweep: StanceSweep;
    if (!st || st.horizon > kMin) {
      sweep = new StanceSweep(j);
      sweep.run(warm.scope([j]).filter((f) => f.kt < kMin), null);
      warm.stats.stancesBuilt += 1;
    } else {
      sweep = st.sweep;
      const gap = warm.knownIn(st.horizon, kMin).filter((f) => warm.jurisdictionOf(f) === j);
      if (gap.length > 0) sweep.run(gap, null);
      warm.stats.stancesResumed += 1;
    }
    u.write(`DELETE FROM ${t.stances} WHERE jurisdiction = ? AND dimension IN (${placeholders(ds.length)}) AND kt_to >= ?`, [j, ...ds, kMin]);
    since ??= warm.knownIn(kMin, null);
    const later = since.filter((f) => warm.jurisdictionOf(f) === j);
    const rest = sweep.clone();
    const filter = { closedFrom: kMin, dimensions: dims };
    rest.run(later, rows, filter);
    rest.finish(rows, filter);
    // Kept for the next batch: the sweep before the last few epochs, and a ledger per epoch after it.
    const groups = StanceLedger.epochs(later);
    const cut = Math.max(0, groups.length - RECENT_EPOCHS);
    if (cut > 0) sweep.run(groups.slice(0, cut).flatMap((g) => g.facts), null);
    const recent: { epoch: string; ledger: StanceLedger }[] = [];
    for (const g of groups.slice(cut)) {
      const ledger = (recent[recent.length - 1]?.ledger ?? sweep.state).clone();
      ledger.apply(g.epoch, g.facts);
      recent.push({ epoch: g.epoch, ledger });
    }
    warm.stanceStates.set(j, { horizon: groups[cut]?.epoch ?? kMin, sweep, recent });
  }
  u.insertRows(t.stances, STANCE_COLUMNS, rows);
}

/** Folds a jurisdiction's oldest recent epochs into its sweep while more than RECENT_EPOCHS remain before `first`'s. */
function foldStanceState(warm: WarmModel, j: string, first: string): void {
  const st = warm.stanceStates.get(j);
  if (!st || st.recent.length <= RECENT_EPOCHS || (st.recent[1] as { epoch: string }).epoch > first) return;
  const recent = [...st.recent];
  while (recent.length > RECENT_EPOCHS && (recent[1] as { epoch: string }).epoch <= first) recent.shift();
  const horizon = (recent[0] as { epoch: string }).epoch;
  st.sweep.run(warm.knownIn(st.horizon, horizon).filter((f) => warm.jurisdictionOf(f) === j), null);
  warm.stanceStates.set(j, { horizon, sweep: st.sweep, recent });
}

function noteTouched(f: Fact, touched: Set<string>, amendedBy: Map<string, string[]>): void {
  if (f.cat === 'stance') touched.add(f.eventId);
  else if (f.targetEventId !== null) {
    touched.add(f.targetEventId);
    amendedBy.set(f.targetEventId, [...(amendedBy.get(f.targetEventId) ?? []), f.eventId]);
  }
}

/** Recent epochs kept beside the divergence ledger before them; more are folded into it. */
const RECENT_EPOCHS = 4;

/**
 * The epochs from `kMin` on, each with its ledger and change, for `divergenceSweep({ resumed })`.
 * The warm model keeps, beside the ledger as known before `divBase.below`, one cumulative ledger per
 * recent epoch (`divRecent`); the batch's in-scope facts (already added to the model) are applied to
 * the ledgers of their epoch and the later ones, and only then is each epoch's change computed from
 * the ledgers before and after it. Built from the model's facts when missing or out of date.
 */
function resumeRecent(warm: WarmModel, kMin: string, batch: readonly Fact[], stored: ReadonlySet<string>): ResumedEpoch[] | null {
  const inScope = (f: Fact) => stored.has(warm.jurisdictionOf(f) ?? '');
  let base = warm.divBase;
  let recent = warm.divRecent;
  if (!base || base.below > kMin || base.generation !== internGeneration() || recent === null) {
    const epochs = StanceLedger.epochs(warm.knownIn(kMin, null).filter(inScope));
    // Many epochs from kMin on (a backfill, a first batch from the beginning): one ledger each would
    // cost a copy per epoch; the general sweep is cheaper, and a later batch builds them.
    if (epochs.length > RECENT_EPOCHS) return null;
    divBaseBefore(warm, kMin, stored);
    const built = warm.divBase;
    if (!built) return null;
    base = built;
    recent = [];
    for (const { epoch, facts } of epochs) {
      const ledger = (recent[recent.length - 1]?.ledger ?? built.ledger).clone();
      ledger.apply(epoch, facts);
      const entry: RecentEpoch = { epoch, ledger, touched: new Set(), amendedBy: new Map() };
      for (const f of facts) noteTouched(f, entry.touched, entry.amendedBy);
      recent.push(entry);
    }
    warm.divRecent = recent;
  } else {
    warm.stats.baseLatest += 1;
    // (A coding whose amendments came first dropped these ledgers when it was added: see WarmModel.add.)
    for (const { epoch, facts } of StanceLedger.epochs(batch.filter(inScope))) {
      let i = recent.findIndex((r) => r.epoch >= epoch);
      if (i < 0 || (recent[i] as RecentEpoch).epoch !== epoch) {
        // A new epoch: a copy of the state before it, holding every earlier epoch.
        const at = i < 0 ? recent.length : i;
        const ledger = (recent[at - 1]?.ledger ?? base.ledger).clone();
        recent.splice(at, 0, { epoch, ledger, touched: new Set(), amendedBy: new Map() });
        i = at;
      }
      for (let k = i; k < recent.length; k++) (recent[k] as RecentEpoch).ledger.apply(epoch, facts);
      const entry = recent[i] as RecentEpoch;
      for (const f of facts) noteTouched(f, entry.touched, entry.amendedBy);
    }
  }
  // Fold the oldest recent epochs into the base while more than RECENT_EPOCHS remain before kMin's.
  while (recent.length > RECENT_EPOCHS && (recent[1] as RecentEpoch).epoch <= kMin) {
    const first = recent.shift() as RecentEpoch;
    base = { below: (recent[0] as RecentEpoch).epoch, ledger: first.ledger, generation: base.generation };
    warm.divBase = base;
  }
  const out: ResumedEpoch[] = [];
  for (let i = 0; i < recent.length; i++) {
    const r = recent[i] as RecentEpoch;
    if (r.epoch < kMin) continue;
    const before = i === 0 ? base.ledger : (recent[i - 1] as RecentEpoch).ledger;
    out.push({ epoch: r.epoch, ledger: r.ledger, change: StanceLedger.changeBetween(before, r.ledger, r.epoch, r.touched, r.amendedBy) });
  }
  return out;
}

/**
 * Loads a live projector's warm state for a model ahead of its first batch (at startup): the stance
 * history, the divergence ledger and every jurisdiction's row sweep as known before the latest epoch,
 * which is where live batches resume. Without it the first batch after a start paid all of that and
 * the events behind it waited (1.5-3 s at 100,000 events).
 */
export async function warmUpModel(u: Unit, model: string, cb: Codebook, warmModels: WarmModels): Promise<WarmModel | null> {
  const t = tablesOf(model);
  await u.lock(`apply:${t.model}`);
  const warm = await warmModels.acquire(u, t);
  if (!warm || warm.size === 0) return warm;
  const latest = warm.all.reduce((m, f) => (f.kt > m ? f.kt : m), NEG_INF);
  divBaseBefore(warm, latest, new Set(storedJurisdictions(cb)));
  for (const j of warm.jurisdictions()) {
    const facts = warm.scope([j]);
    const sweep = new StanceSweep(j);
    sweep.run(facts.filter((f) => f.kt < latest), null);
    const recent: { epoch: string; ledger: StanceLedger }[] = [];
    for (const g of StanceLedger.epochs(facts.filter((f) => f.kt >= latest))) {
      const ledger = (recent[recent.length - 1]?.ledger ?? sweep.state).clone();
      ledger.apply(g.epoch, g.facts);
      recent.push({ epoch: g.epoch, ledger });
    }
    warm.stanceStates.set(j, { horizon: latest, sweep, recent });
  }
  return warm;
}

/**
 * The warm model's divergence ledger as known before `kMin`, as a copy the sweep may consume: advanced
 * over the facts known in between, or rebuilt when kMin lies before it (a backfilled event) or the
 * interned coding ids were reassigned.
 */
function divBaseBefore(warm: WarmModel, kMin: string, stored: ReadonlySet<string>): StanceLedger {
  resetInternsIfLarge();
  const inScope = (f: Fact) => (f.cat === 'stance' ? f.jurisdiction !== null && stored.has(f.jurisdiction) : true);
  let base = warm.divBase;
  if (!base || base.below > kMin || base.generation !== internGeneration()) {
    base = { below: NEG_INF, ledger: new StanceLedger(), generation: internGeneration() };
    warm.stats.baseBuilt += 1;
  } else warm.stats.baseResumed += 1;
  const from = base.below;
  const gap = warm.knownIn(from, kMin).filter(inScope);
  // One apply of all of them: the ledger's state is a function of the set of facts.
  if (gap.length > 0) base.ledger.apply(kMin, gap);
  warm.divBase = { below: kMin, ledger: base.ledger, generation: base.generation };
  return base.ledger.clone();
}

/**
 * `earliestAffectedWarm` over the in-scope facts known from kMin on. While batches resume the same
 * recent epochs with the same kMin (a live day), it is kept on the warm model and moved by each batch's
 * own facts instead of going over the whole day again: the minimum over a union is the minimum of the
 * minima, and each fact's part (its coding's valid time and the valid times its amendments move it
 * to) only grows earlier as amendments arrive, which their own part then covers. A coding that comes
 * after its amendments, or a fact known before the recent epochs, drops the recent ledgers (see
 * `WarmModel.add`), and with them this value.
 */
function epochVtMin(warm: WarmModel, kMin: string, batchInScope: readonly Fact[], all: () => readonly Fact[], resumed: boolean): string | null {
  const c = warm.vtMinCache;
  let vt: string | null;
  if (resumed && c !== null && c.kMin === kMin && c.recent !== null && c.recent === warm.divRecent) {
    const add = earliestAffectedWarm(warm, batchInScope);
    vt = c.vt === null ? add : add === null || c.vt < add ? c.vt : add;
    warm.stats.vtMinLatest += 1;
  } else vt = earliestAffectedWarm(warm, all());
  warm.vtMinCache = resumed ? { kMin, recent: warm.divRecent, vt } : null;
  return vt;
}

/** `earliestAffected` over what is known from kMin on (`since`), with the codings and amendments from the warm model. */
function earliestAffectedWarm(warm: WarmModel, since: readonly Fact[]): string | null {
  let min: string | null = null;
  const consider = (vt: string | null) => {
    if (vt !== null && (min === null || vt < min)) min = vt;
  };
  const seen = new Set<string>();
  for (const f of since) {
    const coding = f.cat === 'stance' ? f : f.targetEventId !== null ? warm.codings.get(f.targetEventId) : undefined;
    if (!coding || seen.has(coding.eventId)) continue;
    seen.add(coding.eventId);
    consider(coding.vt);
    for (const a of warm.amendments.get(coding.eventId) ?? []) {
      const changes = a.cat === 'correction' ? ((a.event.data as { changes?: Record<string, unknown> }).changes ?? {}) : {};
      if (typeof changes['validtime'] === 'string') consider(tryNorm(changes['validtime']));
    }
  }
  return min;
}

/**
 * Facts are immutable (an event id always gives the same fact), so parsed facts can be kept across
 * batches and models; only which ids a model holds is read each time.
 */
const FACT_CACHE = new Map<string, Fact>();
// Bounded so a projector stays within a few hundred MB on a long history (stance facts are ~1-2 KB parsed).
const FACT_CACHE_LIMIT = 100_000;

async function factsById(r: Reader, t: ModelTables, ids: readonly string[]): Promise<Fact[]> {
  if (ids.length > FACT_CACHE_LIMIT) return selectFacts(r, t, 'event_id', ids);
  let missing = ids.filter((id) => !FACT_CACHE.has(id));
  if (missing.length > 0 && FACT_CACHE.size + missing.length > FACT_CACHE_LIMIT) {
    // Clearing drops the hits too: load everything asked for.
    FACT_CACHE.clear();
    missing = [...ids];
  }
  for (const f of await selectFacts(r, t, 'event_id', missing)) FACT_CACHE.set(f.eventId, f);
  return ids.map((id) => FACT_CACHE.get(id)).filter((f): f is Fact => f !== undefined);
}

/**
 * Every stance coding of some jurisdictions (all: null) and every correction or retraction of one.
 * Ids are read first and parsed facts come from the cache, so a batch does not parse the history again.
 */
export async function loadStanceFacts(r: Reader, t: ModelTables, batch: readonly Fact[] = [], jurisdictions: readonly string[] | null = null): Promise<Fact[]> {
  const js = jurisdictions === null ? null : new Set(jurisdictions);
  const inScope = (f: Fact) => f.cat === 'stance' && (js === null || (f.jurisdiction !== null && js.has(f.jurisdiction)));
  const jFilter = js === null ? '' : ` AND jurisdiction IN (${placeholders(js.size)})`;
  const jFilterS = js === null ? '' : ` AND s.jurisdiction IN (${placeholders(js.size)})`;
  const jParams = js === null ? [] : [...js].sort();
  const codingIds = (await r.query<{ event_id: string }>(`SELECT event_id FROM ${t.facts} WHERE cat = 'stance'${jFilter}`, jParams)).map((x) => x.event_id);
  const codings = mergeFacts(batch.filter(inScope), await factsById(r, t, codingIds));
  const ids = new Set(codings.map((c) => c.eventId));
  const amendmentIds = (
    await r.query<{ event_id: string }>(`SELECT c.event_id FROM ${t.facts} c JOIN ${t.facts} s ON s.event_id = c.target_event_id WHERE s.cat = 'stance'${jFilterS}`, jParams)
  ).map((x) => x.event_id);
  const batchIds = batch.filter(inScope).map((f) => f.eventId);
  const related = mergeFacts(
    batch.filter((f) => isAmendment(f) && f.targetEventId !== null && ids.has(f.targetEventId)),
    await factsById(r, t, amendmentIds),
    await selectFacts(r, t, 'target_event_id', batchIds),
  );
  return [...codings, ...related];
}

/**
 * Rewrites the divergence points known from `kMin` on, for the series of `only` (the jurisdictions
 * whose stances changed; null: every series). Other series depend on unchanged facts and stay.
 */
export async function writeDivergence(
  u: Unit,
  t: ModelTables,
  cb: Codebook,
  kMin: string,
  batch: readonly Fact[],
  changed: ReadonlySet<string> | null,
  warm: WarmModel | null = null,
): Promise<void> {
  const storedSet = storedJurisdictions(cb);
  // Only the stored jurisdictions' pairs are kept as points: a change elsewhere has nothing to rewrite.
  const only = changed === null ? null : new Set(storedSet.filter((j) => changed.has(j)));
  if (only !== null && only.size === 0) return;
  // Warm: only what is known from kMin on (the sweep resumes from the ledger before it), in scope.
  const storedJ = new Set(storedSet);
  const warmLive = warm !== null && kMin > NEG_INF ? warm : null;
  const inScope = (w: WarmModel) => (f: Fact) => storedJ.has(w.jurisdictionOf(f) ?? '');
  // Warm, the facts known from kMin on are needed only where the sweep does not resume (built when asked).
  let scoped: Fact[] | null = warmLive ? null : await loadStanceFacts(u, t, batch, storedSet);
  const facts = (): Fact[] => (scoped ??= warmLive ? warmLive.knownIn(kMin, null).filter(inScope(warmLive)) : []);
  // Pure and in memory; before the reads because the earliest affected valid time below can come from it.
  const resumed = warmLive ? resumeRecent(warmLive, kMin, batch, storedJ) : null;
  const js = only ? [...only].sort() : [];
  const ph = placeholders(js.length);
  const inSet = only ? DEFAULT_JURISDICTIONS.some((j) => only.has(j)) : true;
  const filter = only ? ` AND (${inSet ? "scope = 'global' OR " : ''}a IN (${ph}) OR b IN (${ph}))` : '';
  const filterParams = only ? [...js, ...js] : [];
  // Serialises the read-compute-write of the points with every other writer of them (a rebuild's
  // finalize, another live batch).
  const divLock = `div:${t.model}`;
  type StoredPoint = { series: string; vt: string; kt: string; payload: string; caused_by: string };
  const storedRead = { sql: `SELECT series, vt, kt, payload, caused_by FROM ${t.divPoints} WHERE kt >= ?${filter}`, params: [kMin, ...filterParams] };
  let stored: StoredPoint[] | null = null;
  let prior: PriorPoint[] = [];
  if (kMin <= NEG_INF) await u.lock(divLock);
  else {
    // Only the points the sweep can look at: from the earliest valid time it can change, plus, per
    // series, the point in force just before it (as known before kMin).
    const vtMin = (warmLive ? epochVtMin(warmLive, kMin, batch.filter(inScope(warmLive)), facts, resumed !== null) : earliestAffected(facts(), kMin)) ?? NEG_INF;
    const anchorSeries = (): string[] => {
      const dims = [AGGREGATE, ...cb.dimensions.map((d) => d.id)];
      const all = warm
        ? storedSet.filter((j) => warm.codingsOf(j).length > 0)
        : [...new Set(facts().map((f) => f.jurisdiction).filter((j): j is string => j !== null))].sort();
      const series = new Set<string>(inSet ? [globalSeries(AGGREGATE)] : []);
      for (const j of js) for (const x of all) if (x !== j) for (const d of dims) series.add(pairSeries(j, x, d));
      return [...series].sort();
    };
    if (only && vtMin > NEG_INF && u.dialect === 'postgres') {
      // One round trip: the lock; the affected series' points from vtMin on, by name (seeks on the
      // primary key (series, vt, kt); there is no index on vt alone), and per series the point in force
      // before it; the points known from kMin on, which the result is compared with.
      const [, p, s] = await u.queryMany([
        { locks: [divLock] },
        {
          sql: `SELECT series, vt, kt, payload FROM ${t.divPoints} WHERE series = ANY(?::text[]) AND vt >= ? AND kt < ?
         UNION ALL
         SELECT p.* FROM unnest(?::text[]) AS k(s) CROSS JOIN LATERAL (SELECT series, vt, kt, payload FROM ${t.divPoints} WHERE series = k.s AND vt < ? AND kt < ? ORDER BY vt DESC, kt DESC LIMIT 1) p`,
          params: [affectedSeries(cb, storedSet, js, inSet), vtMin, kMin, anchorSeries(), vtMin, kMin],
        },
        storedRead,
      ]);
      prior = (p ?? []) as unknown as PriorPoint[];
      stored = (s ?? []) as unknown as StoredPoint[];
    } else {
      await u.lock(divLock);
      if (only && vtMin > NEG_INF) {
        for (const part of inList(u.dialect, 'series', affectedSeries(cb, storedSet, js, inSet))) {
          prior.push(...(await u.query<PriorPoint>(`SELECT series, vt, kt, payload FROM ${t.divPoints} WHERE ${part.sql} AND vt >= ? AND kt < ?`, [...part.params, vtMin, kMin])));
        }
      } else prior = await u.query<PriorPoint>(`SELECT series, vt, kt, payload FROM ${t.divPoints} WHERE kt < ? AND vt >= ?${filter}`, [kMin, vtMin, ...filterParams]);
      if (vtMin > NEG_INF) prior.push(...(await anchors(u, t, anchorSeries(), vtMin, kMin)));
    }
  }
  let points: DivPoint[];
  if (resumed) {
    // The sweep resumes from ledgers kept per recent epoch: a live batch applies only its own facts.
    points = divergenceSweep([], cb, { kMin, prior, only, scoped: true, resumed });
  } else {
    const base = warm && kMin > NEG_INF ? divBaseBefore(warm, kMin, storedJ) : undefined;
    points = divergenceSweep(facts(), cb, { kMin, prior, only, ...(base ? { base, scoped: true } : {}) });
  }
  // Most points known from kMin on come out as they were: write only the difference.
  stored ??= await u.query<StoredPoint>(storedRead.sql, storedRead.params);
  const key = (series: string, vt: string, kt: string) => `${series}\u0000${vt}\u0000${kt}`;
  const wanted = new Map(points.map((p) => [key(p.series, p.vt, p.kt), p]));
  const stale: string[][] = [];
  for (const row of stored) {
    const k = key(row.series, row.vt, row.kt);
    const p = wanted.get(k);
    if (p && p.payload === row.payload && canonical(p.causedBy) === row.caused_by) wanted.delete(k);
    else stale.push([row.series, row.vt, row.kt]);
  }
  for (const c of chunks(stale, 300)) {
    u.write(`DELETE FROM ${t.divPoints} WHERE (series, vt, kt) IN (${c.map(() => '(?, ?, ?)').join(', ')})`, c.flat());
  }
  u.insertRows(t.divPoints, DIV_COLUMNS, [...wanted.values()].map(divRow));
}

/** The stored series a change of the jurisdictions `js` rewrites: their pairs with every stored jurisdiction, and the global index if any is in the default set. */
function affectedSeries(cb: Codebook, stored: readonly string[], js: readonly string[], global: boolean): string[] {
  const dims = [AGGREGATE, ...cb.dimensions.map((d) => d.id)];
  const out = new Set<string>(global ? [globalSeries(AGGREGATE)] : []);
  for (const j of js) for (const x of stored) if (x !== j) for (const d of dims) out.add(pairSeries(j, x, d));
  return [...out].sort();
}

/** Per series, the point in force just before `vt` as known before `kMin` (one index seek each). */
async function anchors(r: Reader, t: ModelTables, series: readonly string[], vt: string, kMin: string): Promise<PriorPoint[]> {
  if (series.length === 0) return [];
  const inner = (key: string) => `SELECT series, vt, kt, payload FROM ${t.divPoints} WHERE series = ${key} AND vt < ? AND kt < ? ORDER BY vt DESC, kt DESC LIMIT 1`;
  if (r.dialect === 'postgres') {
    return r.query<PriorPoint>(`SELECT p.* FROM unnest(?::text[]) AS k(s) CROSS JOIN LATERAL (${inner('k.s')}) p`, [series, vt, kMin]);
  }
  const out: PriorPoint[] = [];
  for (const c of chunks(series, 300)) {
    out.push(...(await r.query<PriorPoint>(c.map((_, i) => `SELECT * FROM (${inner('?')}) q${i}`).join(' UNION ALL '), c.flatMap((s) => [s, vt, kMin]))));
  }
  return out;
}

/**
 * The end of a rebuild's bulk phase: secondary indexes, then everything that depends on other facts —
 * events with corrections or retractions, milestones of instruments registered later in the log,
 * applicability, stances and divergence — over every fact of the model.
 */
export async function finalizeModel(run: <T>(fn: (u: Unit) => Promise<T>) => Promise<T>, model: string, cb: Codebook): Promise<void> {
  const t = tablesOf(model);
  await run((u) => {
    for (const s of modelIndexDdl(model)) u.write(s);
    return Promise.resolve();
  });
  await run(async (u) => {
    const amendments = (await u.query<FactRow>(`SELECT * FROM ${t.facts} WHERE cat IN ('correction', 'retraction')`)).map(factFromRow);
    const targets = (await selectFacts(u, t, 'event_id', amendments.map((a) => a.targetEventId as string))).filter((f) => EVENT_KEYED.has(f.cat));
    if (targets.length === 0) return;
    const related = groupByTarget(await selectFacts(u, t, 'target_event_id', targets.map((f) => f.eventId)));
    const instruments = [...new Set(targets.map((f) => f.instrumentId).filter((i): i is string => i !== null))];
    const jurisdictionOf = jurisdictionMap(await selectFacts(u, t, 'instrument_id', instruments, ` AND cat = 'registration'`));
    writeEventKeys(u, t, targets, related, jurisdictionOf);
  });
  await run((u) => {
    u.write(
      `UPDATE ${t.milestones} SET jurisdiction = (SELECT f.jurisdiction FROM ${t.facts} f WHERE f.cat = 'registration' AND f.instrument_id = ${t.milestones}.instrument_id ORDER BY f.position LIMIT 1) WHERE jurisdiction IS NULL`,
    );
    return Promise.resolve();
  });
  // Applicability and stances on one connection while divergence is computed and written on another.
  const perKey = (async () => {
    const instruments = await run(async (u) =>
      (await u.query<{ instrument_id: string }>(`SELECT DISTINCT instrument_id FROM ${t.facts} WHERE cat = 'applicability'`)).map((r) => r.instrument_id).sort(),
    );
    // Large chunks: PostgreSQL reads the facts with bitmap scans instead of thousands of random index lookups.
    for (const c of chunks(instruments, 5000)) await run((u) => writeApplicability(u, t, c, []));
    const jurisdictions = await run(async (u) =>
      (await u.query<{ jurisdiction: string }>(`SELECT DISTINCT jurisdiction FROM ${t.facts} WHERE cat = 'stance'`)).map((r) => r.jurisdiction).sort(),
    );
    // A few jurisdictions per unit: their codings are held in memory while their rows are computed.
    for (const c of chunks(jurisdictions, 4)) await run((u) => writeStances(u, t, c, []));
  })();
  const divergence = run(async (u) => {
    await writeDivergence(u, t, cb, NEG_INF, [], null);
  });
  await Promise.all([perKey, divergence]);
}
