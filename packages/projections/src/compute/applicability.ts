import type { ApplicabilityStep, StoredEvent } from '@regstream/domain';
import { applyCorrections, byKnown, type Fact } from '../facts';
import { cmp, INF, NEG_INF, norm } from '../time';

export const APPLICABILITY_COLUMNS = ['instrument_id', 'provision', 'kt_from', 'kt_to', 'vt_from', 'vt_to', 'applies_from', 'jurisdiction', 'payload'] as const;

const POSTPONING = new Set(['ApplicationPostponed', 'ApplicationBroughtForward']);

interface Effective {
  readonly event: StoredEvent;
  readonly vt: string;
}

/**
 * The domain's `applicability` for the effective events (known order, corrections applied), counting
 * only postponements in force at valid time `from`. Same fold as the domain function, on normalised
 * instants; the tests check it against the domain function.
 */
function fold(effective: readonly Effective[], from: string): Map<string, { appliesFrom: string; history: ApplicabilityStep[] }> {
  const state = new Map<string, { appliesFrom: string; history: ApplicabilityStep[] }>();
  for (const { event: e, vt } of effective) {
    if (e.type === 'ProvisionBecameApplicable') {
      const prior = state.get(e.data.provision);
      state.set(e.data.provision, {
        appliesFrom: e.validtime,
        history: [...(prior?.history ?? []), { eventId: e.id, type: e.type, date: e.validtime, knownAt: e.knowntime }],
      });
    } else if (e.type === 'ApplicationPostponed' || e.type === 'ApplicationBroughtForward') {
      if (vt > from) continue;
      const prior = state.get(e.data.provision);
      state.set(e.data.provision, {
        appliesFrom: e.data.newDate,
        history: [...(prior?.history ?? []), { eventId: e.id, type: e.type, date: e.data.newDate, knownAt: e.knowntime }],
      });
    }
  }
  return state;
}

/**
 * When each provision of one instrument applies, bitemporally. Evaluated on a grid: every known time
 * at which the facts change, and every valid time at which a postponement takes effect (before it,
 * the postponement does not count). Equal neighbours merge.
 */
export function applicabilityRows(instrumentId: string, facts: readonly Fact[], related: readonly Fact[], jurisdiction: string | null): unknown[][] {
  const bases = [...facts].sort(byKnown);
  if (bases.length === 0) return [];
  const relatedBy = new Map<string, Fact[]>();
  for (const r of [...related].sort(byKnown)) {
    if (r.targetEventId === null) continue;
    relatedBy.set(r.targetEventId, [...(relatedBy.get(r.targetEventId) ?? []), r]);
  }
  const first = (bases[0] as Fact).kt;
  const epochs = [...new Set([...bases.map((b) => b.kt), ...related.map((r) => r.kt)])].filter((k) => k >= first).sort(cmp);

  const rows: unknown[][] = [];
  const open = new Map<string, { fields: unknown[]; ktFrom: string }>();
  for (const k of epochs) {
    const effective: Effective[] = [];
    for (const b of bases) {
      if (b.kt > k) continue;
      const rel = (relatedBy.get(b.eventId) ?? []).filter((r) => r.kt <= k);
      if (rel.some((r) => r.cat === 'retraction')) continue;
      const e = applyCorrections(b.event, rel);
      if ('instrumentId' in e.data && e.data.instrumentId !== instrumentId) continue;
      effective.push({ event: e, vt: norm(e.validtime) });
    }
    const cuts = [...new Set(effective.filter((e) => POSTPONING.has(e.event.type)).map((e) => e.vt))].sort(cmp);
    const starts = [NEG_INF, ...cuts];
    const perProvision = new Map<string, { vtFrom: string; vtTo: string; appliesFrom: string; payload: string }[]>();
    starts.forEach((from, i) => {
      const to = starts[i + 1] ?? INF;
      for (const [provision, a] of fold(effective, from)) {
        const payload = JSON.stringify({ appliesFrom: a.appliesFrom, history: a.history });
        const list = perProvision.get(provision) ?? [];
        const last = list[list.length - 1];
        if (last && last.payload === payload && last.vtTo === from) last.vtTo = to;
        else list.push({ vtFrom: from, vtTo: to, appliesFrom: norm(a.appliesFrom), payload });
        perProvision.set(provision, list);
      }
    });
    const now = new Map<string, unknown[]>();
    for (const [provision, list] of perProvision) {
      for (const s of list) now.set(`${provision}\u0000${s.vtFrom}\u0000${s.vtTo}\u0000${s.payload}`, [provision, s.vtFrom, s.vtTo, s.appliesFrom, s.payload]);
    }
    for (const [key, o] of open) {
      if (now.has(key)) continue;
      rows.push(shape(instrumentId, o.fields, o.ktFrom, k, jurisdiction));
      open.delete(key);
    }
    for (const [key, fields] of now) if (!open.has(key)) open.set(key, { fields, ktFrom: k });
  }
  for (const o of open.values()) rows.push(shape(instrumentId, o.fields, o.ktFrom, INF, jurisdiction));
  return rows;
}

function shape(instrumentId: string, f: unknown[], ktFrom: string, ktTo: string, jurisdiction: string | null): unknown[] {
  const [provision, vtFrom, vtTo, appliesFrom, payload] = f;
  return [instrumentId, provision, ktFrom, ktTo, vtFrom, vtTo, appliesFrom, jurisdiction, payload];
}
