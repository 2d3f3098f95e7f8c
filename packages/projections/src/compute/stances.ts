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

/**
 * The stance matrix rows of one jurisdiction, bitemporally: each row says that, as known from kt_from
 * until kt_to, the coding held in valid time from vt_from until vt_to. Each epoch only compares the
 * segments in the valid-time range its changes touch, so the cost follows the changes, not the length
 * of each timeline.
 */
export function stanceRows(jurisdiction: string, facts: readonly Fact[]): unknown[][] {
  const ledger = new StanceLedger();
  const open = new Map<string, Map<string, { seg: Segment; ktFrom: string }>>();
  const rows: unknown[][] = [];
  const emit = (seg: Segment, ktFrom: string, ktTo: string) =>
    rows.push([jurisdiction, seg.dimension, ktFrom, ktTo, seg.vtFrom, seg.vtTo, seg.coding.id, seg.coding.event.data.codebookVersion, stancePayload(seg.coding)]);
  for (const { epoch, facts: fs } of StanceLedger.epochs(facts)) {
    const change = ledger.apply(epoch, fs);
    for (const [key, before] of change.changed) {
      const [j, dimension] = key.split('\u0000') as [string, string];
      if (j !== jurisdiction) continue;
      const after = ledger.timeline(key);
      const range = diffRange(before, after);
      if (!range) continue;
      let byDim = open.get(dimension);
      if (!byDim) {
        byDim = new Map();
        open.set(dimension, byDim);
      }
      const now = new Map(segmentsIn(dimension, after, range.lo, range.hi).map((s) => [segKey(s), s]));
      for (const old of segmentsIn(dimension, before, range.lo, range.hi)) {
        const k = segKey(old);
        const o = byDim.get(k);
        if (!o || now.has(k)) continue;
        emit(o.seg, o.ktFrom, epoch);
        byDim.delete(k);
      }
      for (const [k, seg] of now) if (!byDim.has(k)) byDim.set(k, { seg, ktFrom: epoch });
    }
  }
  for (const byDim of open.values()) for (const o of byDim.values()) emit(o.seg, o.ktFrom, INF);
  return rows;
}
