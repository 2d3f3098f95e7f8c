import type { StoredEvent } from '@regstream/domain';
import { applyCorrections, byKnown, type Fact, posCmp } from '../facts';
import { canonical } from '../json';
import { cmp, norm } from '../time';

/** A stance coding as currently known (corrections applied). */
export interface Coding {
  readonly id: string;
  readonly jurisdiction: string;
  readonly dimension: string;
  /** Normalised valid-from. */
  readonly vf: string;
  readonly kt: string;
  readonly pos: bigint;
  readonly event: StoredEvent<'StanceCoded'>;
  /** Identity of the effective coding, for change detection. */
  readonly sig: string;
  /** A short identity of this effective version, the same in every ledger of the process. */
  readonly seq: number;
}

/** One jurisdiction × dimension over valid time: at each distinct valid-from, the winning coding. */
export interface Timeline {
  readonly vts: readonly string[];
  readonly winners: readonly Coding[];
}

/** Signature → small integer, stable for the life of the process (bounded). */
const INTERNED = new Map<string, number>();
let generation = 0;
/** Changes whenever interned ids are reassigned: caches keyed by them must then be dropped. */
export const internGeneration = (): number => generation;
/** Bounds the table; only between sweeps, so that ids stay unique within one. */
export function resetInternsIfLarge(limit = 500_000): void {
  if (INTERNED.size <= limit) return;
  INTERNED.clear();
  generation += 1;
}
function intern(sig: string): number {
  let n = INTERNED.get(sig);
  if (n === undefined) {
    n = INTERNED.size + 1;
    INTERNED.set(sig, n);
  }
  return n;
}

/** Effective codings by base id and correction ids; dropped with the interned ids they carry. */
const CODINGS = new Map<string, Coding | null>();
let codingGeneration = 0;

export const EMPTY_TIMELINE: Timeline = { vts: [], winners: [] };

export const componentKey = (jurisdiction: string, dimension: string): string => `${jurisdiction}\u0000${dimension}`;

/** Index of the last breakpoint at or before `vt`, or -1. */
export function indexAt(vts: readonly string[], vt: string): number {
  let lo = 0;
  let hi = vts.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((vts[mid] as string) <= vt) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

export function winnerAt(t: Timeline, vt: string): Coding | null {
  const i = indexAt(t.vts, vt);
  return i < 0 ? null : (t.winners[i] as Coding);
}

/**
 * The valid-time range over which two timelines differ: [lo, hi) with hi the first breakpoint after
 * the last difference (null: they differ up to the end of time), or null when they are equal.
 */
export function diffRange(a: Timeline, b: Timeline): { lo: string; hi: string | null } | null {
  // Timelines before and after a change share most of their breakpoints (the same Coding objects):
  // skip the common prefix and suffix by reference, then merge-walk the middle.
  const n = Math.min(a.vts.length, b.vts.length);
  let start = 0;
  while (start < n && a.winners[start] === b.winners[start]) start++;
  let ea = a.vts.length;
  let eb = b.vts.length;
  while (ea > start && eb > start && a.winners[ea - 1] === b.winners[eb - 1]) {
    ea--;
    eb--;
  }
  let i = start;
  let k = start;
  let wa = start > 0 ? (a.winners[start - 1] as Coding).sig : '';
  let wb = wa;
  let lo: string | null = null;
  let last: string | null = null;
  let hi: string | null = null;
  while (i < ea || k < eb) {
    const va = i < ea ? a.vts[i] : undefined;
    const vb = k < eb ? b.vts[k] : undefined;
    const p = vb === undefined || (va !== undefined && va <= vb) ? (va as string) : vb;
    if (va === p) wa = (a.winners[i++] as Coding).sig;
    if (vb === p) wb = (b.winners[k++] as Coding).sig;
    if (last !== null && hi === null) hi = p;
    if (wa !== wb) {
      if (lo === null) lo = p;
      last = p;
      hi = null;
    }
  }
  if (lo === null) return null;
  // The first breakpoint of the common suffix is where they agree again.
  if (hi === null && ea < a.vts.length) hi = a.vts[ea] as string;
  return { lo, hi };
}

// The stance matrix rule: the latest valid-from wins; on equal valid-from, the later known, then the later logged.
const codingOrder = (x: Coding, y: Coding): number => cmp(x.vf, y.vf) || cmp(x.kt, y.kt) || posCmp(x.pos, y.pos);

/** First index in `sorted` whose coding orders after `c` (where `c` would be inserted). */
function upperBound(sorted: readonly Coding[], c: Coding): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (codingOrder(sorted[mid] as Coding, c) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first member whose valid-from is after `vf`. */
function afterVf(sorted: readonly Coding[], vf: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as Coding).vf <= vf) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A copy of a timeline with the breakpoints at `vfs` recomputed from the members: a flat copy plus a
 * binary search per changed valid-from, instead of rebuilding it from every member (that made each
 * epoch cost the length of the timeline, quadratic over a long history).
 */
function patchTimeline(t: Timeline, sorted: readonly Coding[], vfs: Iterable<string>): Timeline {
  const vts = t.vts.slice();
  const winners = t.winners.slice();
  for (const vf of vfs) {
    const last = sorted[afterVf(sorted, vf) - 1];
    const winner = last !== undefined && last.vf === vf ? last : undefined;
    const i = indexAt(vts, vf);
    const present = i >= 0 && vts[i] === vf;
    if (winner && present) winners[i] = winner;
    else if (winner) {
      vts.splice(i + 1, 0, vf);
      winners.splice(i + 1, 0, winner);
    } else if (present) {
      vts.splice(i, 1);
      winners.splice(i, 1);
    }
  }
  return { vts, winners };
}

/** The timeline of codings kept in rule order: at each distinct valid-from, the last one wins. */
function timelineOf(sorted: readonly Coding[]): Timeline {
  const vts: string[] = [];
  const winners: Coding[] = [];
  for (const c of sorted) {
    if (vts[vts.length - 1] === c.vf) winners[winners.length - 1] = c;
    else {
      vts.push(c.vf);
      winners.push(c);
    }
  }
  return { vts, winners };
}

export interface EpochChange {
  readonly epoch: string;
  /** Component key → timeline before this epoch (the new one is in `ledger.timelines`). */
  readonly changed: Map<string, Timeline>;
  /** Component key → ids of corrections and retractions of this epoch that touched it. */
  readonly amendments: Map<string, string[]>;
}

/**
 * Stance codings swept through known time, epoch by epoch (an epoch is a distinct known time): the
 * state after an epoch is what was known at that time. Shared by the stance matrix and divergence.
 */
export class StanceLedger {
  private bases = new Map<string, Fact>();
  private related = new Map<string, Fact[]>();
  private retracted = new Set<string>();
  private effective = new Map<string, Coding>();
  /** Per component, its effective codings in rule order: kept sorted as codings come and go, never re-sorted. */
  private members = new Map<string, Coding[]>();
  timelines = new Map<string, Timeline>();
  jurisdictions = new Set<string>();

  /**
   * An independent copy, to resume sweeps from a state without replaying what led to it. Timelines and
   * codings are never changed in place, so only the containers are copied (member lists are spliced, so they are too).
   */
  clone(): StanceLedger {
    const c = new StanceLedger();
    c.bases = new Map(this.bases);
    c.related = new Map(this.related);
    c.retracted = new Set(this.retracted);
    c.effective = new Map(this.effective);
    c.members = new Map([...this.members].map(([k, v]) => [k, v.slice()]));
    c.timelines = new Map(this.timelines);
    c.jurisdictions = new Set(this.jurisdictions);
    return c;
  }

  /** The facts grouped into epochs, in known-time order. */
  static epochs(facts: readonly Fact[]): { epoch: string; facts: Fact[] }[] {
    const out: { epoch: string; facts: Fact[] }[] = [];
    for (const f of [...facts].sort(byKnown)) {
      const last = out[out.length - 1];
      if (last && last.epoch === f.kt) last.facts.push(f);
      else out.push({ epoch: f.kt, facts: [f] });
    }
    return out;
  }

  timeline(key: string): Timeline {
    return this.timelines.get(key) ?? EMPTY_TIMELINE;
  }

  /**
   * What `before.apply(epoch, facts)` returns, when `after` is `before` with the epoch's facts applied
   * (in one apply or several) and `touched` holds every coding id those facts touched (codings, targets
   * of amendments) with `amendedBy` their amendments' ids: lets a sweep of the latest epoch resume
   * without applying the epoch's earlier facts again.
   */
  static changeBetween(before: StanceLedger, after: StanceLedger, epoch: string, touched: Iterable<string>, amendedBy: ReadonlyMap<string, readonly string[]>): EpochChange {
    const changed = new Map<string, Timeline>();
    const amendments = new Map<string, string[]>();
    for (const id of touched) {
      const b = before.effective.get(id);
      const a = after.effective.get(id);
      if (b?.sig === a?.sig) continue;
      for (const c of [b, a]) {
        if (!c) continue;
        const k = componentKey(c.jurisdiction, c.dimension);
        if (!changed.has(k)) changed.set(k, before.timeline(k));
        const ids = amendedBy.get(id);
        if (ids) amendments.set(k, [...(amendments.get(k) ?? []), ...ids]);
      }
    }
    for (const [k, ids] of amendments) amendments.set(k, [...new Set(ids)].sort());
    return { epoch, changed, amendments };
  }

  apply(epoch: string, facts: readonly Fact[]): EpochChange {
    const touched = new Set<string>();
    const amendedBy = new Map<string, string[]>();
    for (const f of facts) {
      if (f.cat === 'stance') {
        this.bases.set(f.eventId, f);
        touched.add(f.eventId);
      } else if ((f.cat === 'correction' || f.cat === 'retraction') && f.targetEventId !== null) {
        const t = f.targetEventId;
        if (f.cat === 'retraction') this.retracted.add(t);
        else this.related.set(t, [...(this.related.get(t) ?? []), f].sort(byKnown));
        touched.add(t);
        amendedBy.set(t, [...(amendedBy.get(t) ?? []), f.eventId]);
      }
    }
    const changed = new Map<string, Timeline>();
    const amendments = new Map<string, string[]>();
    const vfsOf = new Map<string, Set<string>>();
    const mark = (key: string, vf: string) => {
      if (!changed.has(key)) changed.set(key, this.timeline(key));
      const set = vfsOf.get(key) ?? new Set<string>();
      set.add(vf);
      vfsOf.set(key, set);
    };
    for (const id of touched) {
      const base = this.bases.get(id);
      if (!base) continue;
      const before = this.effective.get(id);
      const after = this.retracted.has(id) ? undefined : this.codingOf(base);
      if (before?.sig === after?.sig) continue;
      if (before) {
        const k = componentKey(before.jurisdiction, before.dimension);
        const list = this.members.get(k);
        if (list) {
          // Equal order keys are possible only for the same coding; search back from its upper bound.
          for (let i = upperBound(list, before) - 1; i >= 0; i--) {
            if ((list[i] as Coding).id === id) {
              list.splice(i, 1);
              break;
            }
          }
        }
        mark(k, before.vf);
        if (amendedBy.has(id)) amendments.set(k, [...(amendments.get(k) ?? []), ...(amendedBy.get(id) ?? [])]);
      }
      if (after) {
        const k = componentKey(after.jurisdiction, after.dimension);
        const list = this.members.get(k) ?? [];
        list.splice(upperBound(list, after), 0, after);
        this.members.set(k, list);
        this.effective.set(id, after);
        this.jurisdictions.add(after.jurisdiction);
        mark(k, after.vf);
        if (amendedBy.has(id)) amendments.set(k, [...(amendments.get(k) ?? []), ...(amendedBy.get(id) ?? [])]);
      } else this.effective.delete(id);
    }
    for (const [k, before] of changed) {
      const members = this.members.get(k) ?? [];
      const vfs = vfsOf.get(k) ?? new Set<string>();
      // Many changes at once (the first epochs, a fast-forward): one rebuild is cheaper than patches.
      this.timelines.set(k, vfs.size * 8 > members.length ? timelineOf(members) : patchTimeline(before, members, vfs));
    }
    for (const [k, ids] of amendments) amendments.set(k, [...new Set(ids)].sort());
    return { epoch, changed, amendments };
  }

  private codingOf(base: Fact): Coding | undefined {
    // A coding is a pure function of its base and corrections (all immutable facts): a live batch
    // re-sweeps the whole stance history, so computing each one once per process matters.
    const related = this.related.get(base.eventId) ?? [];
    // The log position is part of the key: two stores in one process may place the same event differently.
    const head = `${base.eventId}@${base.position}`;
    const key = related.length === 0 ? head : `${head}|${related.map((r) => r.eventId).join('|')}`;
    if (codingGeneration !== generation) {
      CODINGS.clear();
      codingGeneration = generation;
    }
    const hit = CODINGS.get(key);
    if (hit !== undefined) return hit ?? undefined;
    const made = this.makeCoding(base, related);
    if (CODINGS.size >= 400_000) CODINGS.clear();
    CODINGS.set(key, made ?? null);
    return made;
  }

  private makeCoding(base: Fact, related: readonly Fact[]): Coding | undefined {
    const e = applyCorrections(base.event, related) as StoredEvent<'StanceCoded'>;
    if (e.type !== 'StanceCoded') return undefined;
    const d = e.data;
    // The jurisdiction is the stream's: a coding cannot be corrected into another jurisdiction.
    const jurisdiction = base.jurisdiction ?? d.jurisdiction;
    const vf = norm(e.validtime);
    const sig = canonical([base.eventId, e.validtime, d]);
    return {
      id: base.eventId,
      jurisdiction,
      dimension: d.dimension,
      vf,
      kt: base.kt,
      pos: base.position,
      event: e,
      sig,
      seq: intern(sig),
    };
  }
}
