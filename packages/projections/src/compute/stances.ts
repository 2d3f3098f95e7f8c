import type { Fact } from '../facts';
import { INF } from '../time';
import { type Coding, StanceLedger, type Timeline } from './ledger';

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

function segments(dimension: string, t: Timeline): Segment[] {
  return t.vts.map((vt, i) => ({ dimension, vtFrom: vt, vtTo: t.vts[i + 1] ?? INF, coding: t.winners[i] as Coding }));
}

const segKey = (s: Segment) => `${s.dimension}\u0000${s.vtFrom}\u0000${s.vtTo}\u0000${s.coding.sig}`;

/**
 * The stance matrix rows of one jurisdiction, bitemporally: each row says that, as known from kt_from
 * until kt_to, the coding held in valid time from vt_from until vt_to.
 */
export function stanceRows(jurisdiction: string, facts: readonly Fact[]): unknown[][] {
  const ledger = new StanceLedger();
  const open = new Map<string, { seg: Segment; ktFrom: string }>();
  const rows: unknown[][] = [];
  const emit = (seg: Segment, ktFrom: string, ktTo: string) =>
    rows.push([jurisdiction, seg.dimension, ktFrom, ktTo, seg.vtFrom, seg.vtTo, seg.coding.id, seg.coding.event.data.codebookVersion, stancePayload(seg.coding)]);
  for (const { epoch, facts: fs } of StanceLedger.epochs(facts)) {
    const change = ledger.apply(epoch, fs);
    for (const key of change.changed.keys()) {
      const [j, dimension] = key.split('\u0000') as [string, string];
      if (j !== jurisdiction) continue;
      const now = new Map(segments(dimension, ledger.timeline(key)).map((s) => [segKey(s), s]));
      for (const [k, o] of open) {
        if (o.seg.dimension !== dimension || now.has(k)) continue;
        emit(o.seg, o.ktFrom, epoch);
        open.delete(k);
      }
      for (const [k, s] of now) if (!open.has(k)) open.set(k, { seg: s, ktFrom: epoch });
    }
  }
  for (const o of open.values()) emit(o.seg, o.ktFrom, INF);
  return rows;
}
