import type { Fact } from '../facts';
import { INF } from '../time';
import { type Coding, diffRange, indexAt, StanceLedger, type Timeline } from './ledger';

export const STANCE_COLUMNS = ['jurisdiction', 'dimension', 'kt_from', 'kt_to', 'vt_from', 'vt_to', 'event_id', 'codebook_version', 'payload'] as const;

export function stancePayload(c: Coding): string {
  const d = c.event.data;
  // Fixed key order: JSON.stringify is canonical here.
  return JSON.stringify({
    value: d.value,
    confidence: d.confidence,
    basis: d.basis ?? null,
    provisions: d.provisions,
    evidence: d.evidence,
    coder: d.coder,
    citation: c.event.citation ?? null,
    validFrom: c.event.validtime,
    knownAt: c.event.knowntime,
  });
}

interface Segment {
  readonly dimension: string;
  readonly vtFrom: string;
  readonly vtTo: string;
  readonly coding: Coding;
}

/**
 * The segments of a timeline that can differ from another timeline whose differences lie in [lo, hi):
 * the one ending at lo (its end moves) up to the one ending at hi. Beyond them both timelines agree.
 */
function segmentsIn(dimension: string, t: Timeline, lo: string, hi: string | null): Segment[] {
  const out: Segment[] = [];
  for (let i = Math.max(0, indexAt(t.vts, lo) - 1); i < t.vts.length; i++) {
    const vtFrom = t.vts[i] as string;
    if (hi !== null && vtFrom > hi) break;
    const vtTo = t.vts[i + 1] ?? INF;
    // Selected by valid time, not by index, so both timelines give the same unchanged neighbours.
    if (vtTo < lo) continue;
    out.push({ dimension, vtFrom, vtTo, coding: t.winners[i] as Coding });
  }
  return out;
}

// `seq` stands for the coding's signature (interned): keys stay short.
const segKey = (s: Segment) => `${s.vtFrom}\u0000${s.vtTo}\u0000${s.coding.seq}`;

/** A row before its payload is built: a segment of a timeline and the known-time interval it held in. */
export interface StanceSegment {
  readonly seg: Segment;
  readonly ktFrom: string;
  readonly ktTo: string;
}

/** What identifies a row's content: its key and the effective coding (the payload is a function of it). */
export const segmentIdentity = (s: StanceSegment): string => `${s.seg.dimension}\u0000${s.ktFrom}\u0000${s.seg.vtFrom}\u0000${s.ktTo}\u0000${s.seg.vtTo}\u0000${s.seg.coding.seq}`;

export interface StanceRowFilter {
  /** Only rows still open at this known time (kt_to at or after it). */
  readonly closedFrom?: string;
  /** Only rows of these dimensions. */
  readonly dimensions?: ReadonlySet<string>;
}

/**
 * The stance matrix rows of one jurisdiction, bitemporally: each row says that, as known from kt_from
 * until kt_to, the coding held in valid time from vt_from until vt_to. Each epoch only compares the
 * segments in the valid-time range its changes touch, so the cost follows the changes, not the length
 * of each timeline. A sweep can be copied and resumed: a live batch continues from the state before its
 * earliest known time instead of replaying the jurisdiction's history.
 */
export class StanceSweep {
  private ledger = new StanceLedger();
  private open = new Map<string, Map<string, { seg: Segment; ktFrom: string }>>();

  constructor(readonly jurisdiction: string) {}

  clone(): StanceSweep {
    const c = new StanceSweep(this.jurisdiction);
    c.ledger = this.ledger.clone();
    c.open = new Map([...this.open].map(([d, m]) => [d, new Map(m)]));
    return c;
  }

  /**
   * Sweeps the epochs of `facts` (all known at or after every fact swept before), passing the rows
   * that close to `out` (none when null: the state is only advanced).
   */
  run(facts: readonly Fact[], out: unknown[][] | null, filter: StanceRowFilter = {}): void {
    const emit = this.emitter(out, filter);
    for (const { epoch, facts: fs } of StanceLedger.epochs(facts)) {
      const change = this.ledger.apply(epoch, fs);
      for (const [key, before] of change.changed) {
        const [j, dimension] = key.split('\u0000') as [string, string];
        if (j !== this.jurisdiction) continue;
        const after = this.ledger.timeline(key);
        const range = diffRange(before, after);
        if (!range) continue;
        let byDim = this.open.get(dimension);
        if (!byDim) {
          byDim = new Map();
          this.open.set(dimension, byDim);
        }
        const now = new Map(segmentsIn(dimension, after, range.lo, range.hi).map((s) => [segKey(s), s]));
        for (const old of segmentsIn(dimension, before, range.lo, range.hi)) {
          const k = segKey(old);
          const o = byDim.get(k);
          if (!o || now.has(k)) continue;
          emit?.(o.seg, o.ktFrom, epoch);
          byDim.delete(k);
        }
        for (const [k, seg] of now) if (!byDim.has(k)) byDim.set(k, { seg, ktFrom: epoch });
      }
    }
  }

  /** The ledger swept so far (for callers that keep a copy of the state after the sweep). */
  get state(): StanceLedger {
    return this.ledger;
  }

  /**
   * The rows of `dimensions` closed at `closedFrom` or later or still open, when the epochs after this
   * sweep's are exactly `epochs`, each given by the ledger holding everything known up to it. Neither
   * this sweep nor the ledgers change, so a live batch adding to recent epochs recomputes only its own
   * dimensions. Rows come as segments (no payload yet): a caller comparing two results builds payloads
   * only for what it writes.
   */
  segmentsAcross(epochs: readonly { readonly epoch: string; readonly ledger: StanceLedger }[], dimensions: ReadonlySet<string>, closedFrom: string, vtFrom: string | null = null): StanceSegment[] {
    const out: StanceSegment[] = [];
    // Segments ending before vtFrom are left out (a caller knows its changes start there).
    const push = (x: StanceSegment) => {
      if (vtFrom === null || x.seg.vtTo >= vtFrom) out.push(x);
    };
    for (const dimension of [...dimensions].sort()) {
      const key = `${this.jurisdiction}\u0000${dimension}`;
      const open = new Map(this.open.get(dimension) ?? []);
      let before = this.ledger.timeline(key);
      for (const { epoch, ledger } of epochs) {
        const now = ledger.timeline(key);
        const range = diffRange(before, now);
        if (range) {
          const next = new Map(segmentsIn(dimension, now, range.lo, range.hi).map((s) => [segKey(s), s]));
          for (const old of segmentsIn(dimension, before, range.lo, range.hi)) {
            const k = segKey(old);
            const o = open.get(k);
            if (!o || next.has(k)) continue;
            if (epoch >= closedFrom) push({ seg: o.seg, ktFrom: o.ktFrom, ktTo: epoch });
            open.delete(k);
          }
          for (const [k, seg] of next) if (!open.has(k)) open.set(k, { seg, ktFrom: epoch });
        }
        before = now;
      }
      for (const o of open.values()) push({ seg: o.seg, ktFrom: o.ktFrom, ktTo: INF });
    }
    return out;
  }

  /** A segment as a stance row. */
  row(s: StanceSegment): unknown[] {
    return [this.jurisdiction, s.seg.dimension, s.ktFrom, s.ktTo, s.seg.vtFrom, s.seg.vtTo, s.seg.coding.id, s.seg.coding.event.data.codebookVersion, stancePayload(s.seg.coding)];
  }

  /** The rows still open (known until further notice). */
  finish(out: unknown[][], filter: StanceRowFilter = {}): void {
    const emit = this.emitter(out, filter);
    for (const byDim of this.open.values()) for (const o of byDim.values()) emit?.(o.seg, o.ktFrom, INF);
  }

  private emitter(out: unknown[][] | null, filter: StanceRowFilter): ((seg: Segment, ktFrom: string, ktTo: string) => void) | null {
    if (out === null) return null;
    const closedFrom = filter.closedFrom ?? null;
    const dims = filter.dimensions ?? null;
    const j = this.jurisdiction;
    return (seg, ktFrom, ktTo) => {
      // Rows filtered out are not built: their payloads were most of the cost.
      if ((closedFrom !== null && ktTo < closedFrom) || (dims !== null && !dims.has(seg.dimension))) return;
      out.push([j, seg.dimension, ktFrom, ktTo, seg.vtFrom, seg.vtTo, seg.coding.id, seg.coding.event.data.codebookVersion, stancePayload(seg.coding)]);
    };
  }
}

export function stanceRows(jurisdiction: string, facts: readonly Fact[], filter: StanceRowFilter = {}): unknown[][] {
  const sweep = new StanceSweep(jurisdiction);
  const rows: unknown[][] = [];
  sweep.run(facts, rows, filter);
  sweep.finish(rows, filter);
  return rows;
}
