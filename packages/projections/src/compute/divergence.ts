import { aggregateIndex, type Codebook, type CodedValue, type IndexOptions, type PairEntry, type PairIndex, pairMatrix, pairwiseIndex, type Profile } from '@regstream/domain';
import type { Fact } from '../facts';
import { canonical } from '../json';
import { cmp, tryNorm } from '../time';
import { PairwiseMemo } from './pairwise';
import { type Coding, componentKey, diffRange, type EpochChange, indexAt, internGeneration, resetInternsIfLarge, StanceLedger, type Timeline, winnerAt } from './ledger';

/** The jurisdictions of the stored global index (the API's default set). */
export const DEFAULT_JURISDICTIONS: readonly string[] = ['CN', 'EU', 'GB', 'JP', 'KR', 'US'];
export const AGGREGATE = '*';

/**
 * The jurisdictions whose pairs are kept as change points: the default set and the codebook's
 * reference regime. Pairs with any other jurisdiction are computed at query time from the stance
 * matrix (ten dimension distances per instant, microseconds). Storing every pair made the model grow
 * with codings × coded jurisdictions (63 points per coding with 30 jurisdictions) and the sweep hold
 * all of them in memory; this keeps it to 21 pairs whatever the number of jurisdictions (ADR 0007).
 */
export function storedJurisdictions(cb: Codebook): readonly string[] {
  return [...new Set([...DEFAULT_JURISDICTIONS, cb.referenceRegime])].sort();
}

/** The stance codings of the stored jurisdictions and the corrections and retractions of them. */
export function storedScope(facts: readonly Fact[], keep: ReadonlySet<string>): Fact[] {
  const codings = new Set<string>();
  for (const f of facts) if (f.cat === 'stance' && f.jurisdiction !== null && keep.has(f.jurisdiction)) codings.add(f.eventId);
  return facts.filter((f) => (f.cat === 'stance' ? codings.has(f.eventId) : f.targetEventId !== null && codings.has(f.targetEventId)));
}

export type SeriesScope = 'pair' | 'global';

export const pairSeries = (a: string, b: string, dimension: string): string => {
  const [x, y] = a < b ? [a, b] : [b, a];
  return `pair:${x}|${y}:${dimension}`;
};
export const globalSeries = (dimension: string): string => `global:default:${dimension}`;

export interface DivPoint {
  readonly series: string;
  readonly vt: string;
  readonly kt: string;
  readonly scope: SeriesScope;
  readonly a: string | null;
  readonly b: string | null;
  readonly dimension: string;
  readonly value: number | null;
  readonly payload: string;
  readonly causedBy: readonly string[];
}

export const DIV_COLUMNS = ['series', 'vt', 'kt', 'scope', 'a', 'b', 'dimension', 'value', 'payload', 'caused_by'] as const;

export function divRow(p: DivPoint): unknown[] {
  return [p.series, p.vt, p.kt, p.scope, p.a, p.b, p.dimension, p.value, p.payload, canonical(p.causedBy)];
}

/** A point already stored (known before the sweep's start), to resume from. */
export interface PriorPoint {
  readonly series: string;
  readonly vt: string;
  readonly kt: string;
  readonly payload: string;
}

/**
 * A pair's index as stored, compactly: `covered` holds positions in the codebook's dimension list and
 * `missing` is the rest of the dimensions asked for (see `expandPair`).
 */
export interface PairPayload {
  readonly value: number | null;
  readonly band: readonly [number, number] | null;
  readonly covered: readonly number[];
  readonly weightShare: number;
}

export interface PairCoverage {
  readonly covered: readonly string[];
  readonly missing: readonly string[];
  readonly weightShare: number;
}

/** The stored pair payload with its coverage spelled out, as the API shows it. */
export function expandPair(cb: Codebook, p: PairPayload, dimension: string): { value: number | null; band: readonly [number, number] | null; coverage: PairCoverage } {
  const asked = dimension === AGGREGATE ? cb.dimensions.map((d) => d.id) : [dimension];
  const covered = p.covered.map((i) => cb.dimensions[i]?.id ?? String(i));
  const set = new Set(covered);
  return { value: p.value, band: p.band, coverage: { covered, missing: asked.filter((d) => !set.has(d)), weightShare: p.weightShare } };
}

export interface GlobalPayload {
  readonly value: number | null;
  readonly dispersion: number | null;
  readonly pairs: number;
  readonly pairsWithoutOverlap: number;
  readonly meanCoverage: number;
}

const dimOpts = (dimension: string): IndexOptions => (dimension === AGGREGATE ? {} : { dimensions: [dimension] });

export function pairPayload(cb: Codebook, a: Profile, b: Profile, dimension: string): PairPayload {
  return pairPayloadOf(cb, pairwiseIndex(cb, a, b, dimOpts(dimension)));
}

const DIM_POSITIONS = new Map<string, Map<string, number>>();
function pairPayloadOf(cb: Codebook, idx: PairIndex): PairPayload {
  let pos = DIM_POSITIONS.get(cb.version);
  if (!pos) {
    pos = new Map(cb.dimensions.map((d, i) => [d.id, i]));
    DIM_POSITIONS.set(cb.version, pos);
  }
  const at = pos;
  return { value: idx.value, band: idx.band, covered: idx.coverage.covered.map((d) => at.get(d) ?? -1), weightShare: idx.coverage.weightShare };
}

export function globalPayload(cb: Codebook, profiles: ReadonlyMap<string, Profile>, set: readonly string[], dimension: string): GlobalPayload {
  return aggregatePayload(pairMatrix(cb, profiles, set, dimOpts(dimension)));
}

/** The global index from pair entries (the domain's aggregateIndex), as stored. */
export function aggregatePayload(entries: readonly PairEntry[]): GlobalPayload {
  const agg = aggregateIndex(entries);
  return { value: agg.value, dispersion: agg.dispersion, pairs: agg.pairs, pairsWithoutOverlap: agg.pairsWithoutOverlap, meanCoverage: agg.meanCoverage };
}

/** What a series says where it has no point: nothing coded on either side. */
export function emptyPayload(cb: Codebook, scope: SeriesScope, dimension: string, set: readonly string[] = DEFAULT_JURISDICTIONS): string {
  return scope === 'pair' ? payloadText(pairPayload(cb, new Map(), new Map(), dimension)) : payloadText(globalPayload(cb, new Map(), set, dimension));
}

/** Payloads are built with a fixed key order, so plain JSON text is canonical for them. */
export const payloadText = (p: PairPayload | GlobalPayload): string => JSON.stringify(p);

export function codedValue(c: Coding): CodedValue {
  const d = c.event.data;
  return { value: d.value, confidence: d.confidence, ...(d.basis ? { basis: d.basis } : {}) };
}

const PAIR_CACHE = new Map<string, PairIndex>();
/** Payload (and its text) per cached pair index: the same index object always gives the same payload. */
const PAYLOADS = new WeakMap<PairIndex, PairPayload>();
const TEXTS = new WeakMap<PairPayload | GlobalPayload, string>();
function textOf(p: PairPayload | GlobalPayload): string {
  let t = TEXTS.get(p);
  if (t === undefined) {
    t = payloadText(p);
    TEXTS.set(p, t);
  }
  return t;
}
const MEMOS = new Map<string, PairwiseMemo>();
let cachedGeneration = -1;
function memoFor(cb: Codebook): PairwiseMemo {
  if (cachedGeneration !== internGeneration()) {
    PAIR_CACHE.clear();
    MEMOS.clear();
    cachedGeneration = internGeneration();
  }
  let m = MEMOS.get(cb.version);
  if (!m) {
    m = new PairwiseMemo(cb);
    MEMOS.set(cb.version, m);
  }
  return m;
}

/** Current-knowledge view of one series during the sweep: valid-time points and their values. */
class SeriesState {
  vts: string[] = [];
  payloads: string[] = [];
  lookup(vt: string): string | undefined {
    const i = indexAt(this.vts, vt);
    return i < 0 ? undefined : this.payloads[i];
  }
  set(vt: string, payload: string): void {
    const i = indexAt(this.vts, vt);
    if (i >= 0 && this.vts[i] === vt) this.payloads[i] = payload;
    else {
      this.vts.splice(i + 1, 0, vt);
      this.payloads.splice(i + 1, 0, payload);
    }
  }
  pointsIn(lo: string, hi: string | null): string[] {
    const out: string[] = [];
    for (let i = Math.max(0, indexAt(this.vts, lo)); i < this.vts.length; i++) {
      const v = this.vts[i] as string;
      if (hi !== null && v > hi) break;
      if (v >= lo) out.push(v);
    }
    return out;
  }
}

interface Task {
  readonly series: string;
  readonly scope: SeriesScope;
  readonly a: string | null;
  readonly b: string | null;
  readonly dimension: string;
  readonly components: string[];
  lo: string;
  hi: string | null;
}

/**
 * The earliest valid time a sweep from `kMin` can change: the valid-from of every coding touched by a
 * fact known at or after kMin, in every version (corrections may move it). Nothing before it changes.
 */
export function earliestAffected(facts: readonly Fact[], kMin: string): string | null {
  const byId = new Map<string, Fact>();
  const amendmentsOf = new Map<string, Fact[]>();
  for (const f of facts) {
    byId.set(f.eventId, f);
    if (f.targetEventId !== null) amendmentsOf.set(f.targetEventId, [...(amendmentsOf.get(f.targetEventId) ?? []), f]);
  }
  let min: string | null = null;
  const consider = (vt: string | null) => {
    if (vt !== null && (min === null || vt < min)) min = vt;
  };
  const touch = (coding: Fact | undefined) => {
    if (!coding) return;
    consider(coding.vt);
    for (const a of amendmentsOf.get(coding.eventId) ?? []) {
      const changes = a.cat === 'correction' ? ((a.event.data as { changes?: Record<string, unknown> }).changes ?? {}) : {};
      if (typeof changes['validtime'] === 'string') consider(tryNorm(changes['validtime']));
    }
  };
  for (const f of facts) {
    if (f.kt < kMin) continue;
    touch(f.cat === 'stance' ? f : f.targetEventId !== null ? byId.get(f.targetEventId) : undefined);
  }
  return min;
}

/** An epoch to sweep with the ledger as known after it and its change (see `divergenceSweep`). */
export interface ResumedEpoch {
  readonly epoch: string;
  readonly ledger: StanceLedger;
  readonly change: EpochChange;
}

/** Whether a stored series must be recomputed when the stances of `only` change. */
export function seriesAffected(p: { scope: string; a: string | null; b: string | null }, only: ReadonlySet<string>, set: readonly string[] = DEFAULT_JURISDICTIONS): boolean {
  return p.scope === 'global' ? set.some((j) => only.has(j)) : only.has(p.a ?? '') || only.has(p.b ?? '');
}

/**
 * The divergence change points, bitemporally, for every pair of the stored jurisdictions (per dimension and
 * aggregated; see `storedJurisdictions`) and for the global index (aggregated, with its dispersion) over the default set. Stance facts are swept through known
 * time; at each epoch at or after `kMin`, only the valid-time ranges where some stance changed are
 * re-evaluated, and a point is written where the value as now known differs from what the stored points
 * say. `prior` holds the stored points known before `kMin`, so a sweep can resume; with kMin at the
 * beginning of time and no prior points it is a full rebuild. Same facts, same points.
 */
export function divergenceSweep(
  allFacts: readonly Fact[],
  cb: Codebook,
  opts: {
    kMin: string;
    prior?: readonly PriorPoint[];
    set?: readonly string[];
    only?: ReadonlySet<string> | null;
    /**
     * A ledger holding exactly the in-scope facts known before kMin (see WarmModel.divBase), consumed by
     * the sweep: the history before kMin is then not replayed. Its codings must carry the interned ids
     * of the current generation (the caller checks `internGeneration`).
     */
    base?: StanceLedger;
    /** The facts are already the stored jurisdictions' codings and their amendments (warm callers pass only those known from kMin on). */
    scoped?: boolean;
    /**
     * The epochs to sweep, each with a ledger that already holds it and its change against the state
     * before it (as `StanceLedger.apply` of every fact of the epoch would have returned it): a live
     * batch adding to recent epochs does not apply their earlier facts again. `facts` and `base` are
     * then not used.
     */
    resumed?: readonly ResumedEpoch[];
  },
): DivPoint[] {
  const set = [...(opts.set ?? DEFAULT_JURISDICTIONS)].sort();
  const facts = opts.scoped ? allFacts : storedScope(allFacts, new Set([...storedJurisdictions(cb), ...set]));
  const only = opts.only ?? null;
  const inSet = new Set(set);
  const dims = cb.dimensions.map((d) => d.id);
  let ledger = opts.base ?? new StanceLedger();
  const states = new Map<string, SeriesState>();
  const latest = new Map<string, Map<string, { kt: string; payload: string }>>();
  for (const p of opts.prior ?? []) {
    const m = latest.get(p.series) ?? new Map<string, { kt: string; payload: string }>();
    const cur = m.get(p.vt);
    if (!cur || cur.kt < p.kt) m.set(p.vt, { kt: p.kt, payload: p.payload });
    latest.set(p.series, m);
  }
  for (const [series, m] of latest) {
    const s = new SeriesState();
    const vts = [...m.keys()].sort(cmp);
    s.vts = vts;
    s.payloads = vts.map((v) => (m.get(v) as { payload: string }).payload);
    states.set(series, s);
  }
  const empties = new Map<string, string>();
  const emptyOf = (scope: SeriesScope, dimension: string) => {
    const k = `${scope}:${dimension}`;
    let e = empties.get(k);
    if (e === undefined) {
      e = emptyPayload(cb, scope, dimension, set);
      empties.set(k, e);
    }
    return e;
  };

  // Series names and component keys per pair, built once per sweep rather than once per epoch.
  const layouts = new Map<string, { aggregate: string; components: string[]; perDimension: string[]; perDimensionComponents: string[][] }>();
  const pairLayout = (a: string, b: string) => {
    const k = `${a}\u0000${b}`;
    let l = layouts.get(k);
    if (!l) {
      l = {
        aggregate: pairSeries(a, b, AGGREGATE),
        components: dims.flatMap((d) => [componentKey(a, d), componentKey(b, d)]),
        perDimension: dims.map((d) => pairSeries(a, b, d)),
        perDimensionComponents: dims.map((d) => [componentKey(a, d), componentKey(b, d)]),
      };
      layouts.set(k, l);
    }
    return l;
  };
  const globalComponents = set.flatMap((j) => dims.map((d) => componentKey(j, d)));

  const out: DivPoint[] = [];
  // Profiles per jurisdiction and valid time, dropped when that jurisdiction's stances change.
  const profiles = new Map<string, Map<string, { profile: Profile; ids: Map<string, number>; key: string }>>();
  // With a base ledger the interned ids it holds must stay valid: the caller resets them, not the sweep.
  if (!opts.base) resetInternsIfLarge();
  const memo = memoFor(cb);
  const epochs = opts.resumed ? [] : StanceLedger.epochs(opts.base ? facts.filter((f) => f.kt >= opts.kMin) : facts);
  // What was known before kMin only sets the starting state: one apply of all of it (the ledger's state
  // is a function of the set of facts) instead of rebuilding timelines epoch by epoch.
  const firstSwept = epochs.findIndex((e) => e.epoch >= opts.kMin);
  const before = firstSwept < 0 ? epochs : epochs.slice(0, firstSwept);
  if (before.length > 0) ledger.apply((before[before.length - 1] as { epoch: string }).epoch, before.flatMap((e) => e.facts));
  const sweepEpoch = (epoch: string, change: EpochChange): void => {
    if (change.changed.size === 0) return;
    const dirty = new Map<string, { lo: string; hi: string | null }>();
    for (const [k, before] of change.changed) {
      const r = diffRange(before, ledger.timeline(k));
      if (r) dirty.set(k, r);
    }
    if (dirty.size === 0) return;
    const dirtyJ = new Set([...dirty.keys()].map((k) => k.split('\u0000')[0] as string));
    const tasks = new Map<string, Task>();
    const addTask = (series: string, scope: SeriesScope, a: string | null, b: string | null, dimension: string, components: string[]) => {
      if (only && scope === 'pair' && !only.has(a as string) && !only.has(b as string)) return;
      let lo: string | null = null;
      let hi: string | null = null;
      let hiOpen = false;
      for (const c of components) {
        const r = dirty.get(c);
        if (!r) continue;
        if (lo === null || r.lo < lo) lo = r.lo;
        if (r.hi === null) hiOpen = true;
        else if (hi === null || r.hi > hi) hi = r.hi;
      }
      if (lo === null) return;
      tasks.set(series, { series, scope, a, b, dimension, components, lo, hi: hiOpen ? null : hi });
    };
    const all = [...ledger.jurisdictions].sort();
    for (const j of [...dirtyJ].sort()) {
      for (const x of all) {
        if (x === j) continue;
        const [a, b] = j < x ? [j, x] : [x, j];
        if (only && !only.has(a) && !only.has(b)) continue;
        const layout = pairLayout(a, b);
        if (tasks.has(layout.aggregate)) continue;
        addTask(layout.aggregate, 'pair', a, b, AGGREGATE, layout.components);
        dims.forEach((d, i) => addTask(layout.perDimension[i] as string, 'pair', a, b, d, layout.perDimensionComponents[i] as string[]));
      }
    }
    if ([...dirtyJ].some((j) => inSet.has(j)) && (!only || set.some((j) => only.has(j)))) {
      // Only the aggregate global index is stored; per dimension it is derived from the pair series.
      addTask(globalSeries(AGGREGATE), 'global', null, null, AGGREGATE, globalComponents);
    }

    for (const k of change.changed.keys()) profiles.delete(k.split('\u0000')[0] as string);
    const profileAt = (j: string, vt: string): { profile: Profile; ids: Map<string, number>; key: string } => {
      let byVt = profiles.get(j);
      if (!byVt) {
        byVt = new Map();
        profiles.set(j, byVt);
      }
      let p = byVt.get(vt);
      if (!p) {
        const m = new Map<string, CodedValue>();
        const ids = new Map<string, number>();
        let key = '';
        for (const d of dims) {
          const w = winnerAt(ledger.timeline(componentKey(j, d)), vt);
          if (w && w.event.data.codebookVersion === cb.version) {
            m.set(d, codedValue(w));
            ids.set(d, w.seq);
            key += `${w.seq},`;
          } else key += ',';
        }
        p = { profile: m, ids, key };
        byVt.set(vt, p);
      }
      return p;
    };
    // pairwiseIndex is pure: memoised on the codings of both sides (interned), across sweeps.
    const pairIndexAt = (a: string, b: string, vt: string, dimension: string): PairIndex => {
      const pa = profileAt(a, vt);
      const pb = profileAt(b, vt);
      const key = `${cb.version}|${dimension}|${pa.key}|${pb.key}`;
      let idx = PAIR_CACHE.get(key);
      if (!idx) {
        idx = memo.index(pa.profile, pa.ids, pb.profile, pb.ids, dimOpts(dimension));
        if (PAIR_CACHE.size > 100_000) PAIR_CACHE.clear();
        PAIR_CACHE.set(key, idx);
      }
      return idx;
    };
    const payloadAt = (t: Task, vt: string): PairPayload | GlobalPayload => {
      if (t.scope === 'pair') {
        const idx = pairIndexAt(t.a as string, t.b as string, vt, t.dimension);
        let p = PAYLOADS.get(idx);
        if (!p) {
          p = pairPayloadOf(cb, idx);
          PAYLOADS.set(idx, p);
        }
        return p;
      }
      const entries: PairEntry[] = [];
      for (let i = 0; i < set.length; i++) {
        for (let k = i + 1; k < set.length; k++) entries.push({ a: set[i] as string, b: set[k] as string, index: pairIndexAt(set[i] as string, set[k] as string, vt, t.dimension) });
      }
      return aggregatePayload(entries);
    };

    for (const t of [...tasks.values()].sort((x, y) => cmp(x.series, y.series))) {
      let state = states.get(t.series);
      if (!state) {
        state = new SeriesState();
        states.set(t.series, state);
      }
      const points = new Set<string>([t.lo]);
      if (t.hi !== null) points.add(t.hi);
      for (const c of t.components) {
        const tl = ledger.timeline(c);
        for (let i = Math.max(0, indexAt(tl.vts, t.lo)); i < tl.vts.length; i++) {
          const v = tl.vts[i] as string;
          if (t.hi !== null && v > t.hi) break;
          if (v >= t.lo) points.add(v);
        }
      }
      for (const v of state.pointsIn(t.lo, t.hi)) points.add(v);
      const empty = emptyOf(t.scope, t.dimension);
      // Where none of the series' changed components differs from before this epoch, the value did
      // not change; and while no point was written since the last such place, the stored points
      // still say the right thing there. Only the other places are evaluated.
      const changedHere = t.components.filter((c) => change.changed.has(c));
      let inSync = true;
      for (const vt of [...points].sort(cmp)) {
        const same = changedHere.every((c) => (winnerAt(change.changed.get(c) as Timeline, vt)?.sig ?? '') === (winnerAt(ledger.timeline(c), vt)?.sig ?? ''));
        if (same && inSync) continue;
        inSync = same;
        const payload = payloadAt(t, vt);
        const text = textOf(payload);
        if (text === (state.lookup(vt) ?? empty)) continue;
        state.set(vt, text);
        const causes = new Set<string>();
        for (const c of t.components) {
          const w = winnerAt(ledger.timeline(c), vt);
          if (w && w.vf === vt) causes.add(w.id);
          for (const id of change.amendments.get(c) ?? []) causes.add(id);
        }
        out.push({ series: t.series, vt, kt: epoch, scope: t.scope, a: t.a, b: t.b, dimension: t.dimension, value: payload.value, payload: text, causedBy: [...causes].sort() });
      }
    }
  };
  if (opts.resumed) {
    for (const r of opts.resumed) {
      ledger = r.ledger;
      sweepEpoch(r.epoch, r.change);
    }
  } else for (const { epoch, facts: fs } of firstSwept < 0 ? [] : epochs.slice(firstSwept)) sweepEpoch(epoch, ledger.apply(epoch, fs));
  return out;
}
