import { type AnyEnvelope, CODEBOOK_V1, type CodebookDimension, ordinalRange } from '@regstream/domain';
import { pick, seeded } from './random';

/**
 * A seeded, synthetic history of AI regulation for volume tests: instruments moving through their
 * lifecycle (with future application dates and postponements), stance codings, corrections and
 * retractions, appended roughly in known-time order with some backfilled knowledge, across streams that
 * interleave. Every event is valid for the catalogue.
 */
export interface GeneratorOptions {
  readonly seed?: number;
  readonly events?: number;
  /** Share of stance codings (default 0.02). */
  readonly stanceShare?: number;
  readonly correctionShare?: number;
  readonly retractionShare?: number;
}

const JURISDICTIONS = ['EU', 'US', 'CN', 'GB', 'JP', 'KR', 'CA', 'IN', 'BR', 'AU', 'SG', 'FR', 'DE', 'US-CA', 'US-CO', 'INTL-OECD'];
const STANCE_JURISDICTIONS = ['EU', 'US', 'CN', 'GB', 'JP', 'KR', 'CA', 'IN', 'BR', 'SG', 'INTL-OECD'];
const KINDS = ['law', 'regulation', 'executive_order', 'guideline', 'standard', 'strategy', 'declaration', 'treaty'] as const;
const FORCE = ['binding', 'voluntary', 'political'] as const;
const DAY = 86_400_000;
const EXTRAS = [
  ...Array.from({ length: 6 }, () => 'InstrumentAmended'),
  ...Array.from({ length: 7 }, () => 'GuidanceIssued'),
  ...Array.from({ length: 5 }, () => 'StandardPublished'),
  'ApplicationPostponed',
  'ApplicationBroughtForward',
];

interface Instrument {
  readonly id: string;
  readonly jurisdiction: string;
  readonly plan: string[];
  step: number;
  readonly provisions: Map<string, string>;
}

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function stanceValue(rnd: () => number, dim: CodebookDimension): number | string | string[] {
  switch (dim.scale) {
    case 'ordinal': {
      const { min, max } = ordinalRange(dim);
      return min + Math.floor(rnd() * (max - min + 1));
    }
    case 'nominal':
      return pick(rnd, dim.levels).id;
    case 'set':
      return dim.levels.filter(() => rnd() < 0.3).map((l) => l.id);
  }
}

export function generateHistory(opts: GeneratorOptions = {}): AnyEnvelope[] {
  const rnd = seeded(opts.seed ?? 42);
  const target = opts.events ?? 10_000;
  const stanceShare = opts.stanceShare ?? 0.02;
  const corrShare = opts.correctionShare ?? 0.008;
  const retrShare = opts.retractionShare ?? 0.003;
  const start = Date.UTC(2010, 0, 1);
  const end = Date.UTC(2026, 10, 1);
  const step = (end - start) / target;
  const out: AnyEnvelope[] = [];
  const byStream = new Map<string, AnyEnvelope[]>();
  const active: Instrument[] = [];
  let counter = 0;
  let instruments = 0;
  let clock = start;

  const id = () => {
    counter += 1;
    return `00000000-0000-4000-8${(opts.seed ?? 42).toString(16).padStart(3, '0').slice(-3)}-${counter.toString(16).padStart(12, '0')}`;
  };
  const when = (ms: number) => (rnd() < 0.05 ? `${iso(ms)}T${String(Math.floor(rnd() * 24)).padStart(2, '0')}:30:00Z` : iso(ms));
  const push = (subject: string, type: string, data: Record<string, unknown>, validMs: number, knownMs: number, validText?: string) => {
    const known = when(knownMs);
    const e = {
      specversion: '1.0',
      id: id(),
      source: 'regstream/generator',
      type,
      schemaversion: 1,
      subject,
      time: new Date(knownMs).toISOString(),
      datacontenttype: 'application/json',
      validtime: validText ?? when(validMs),
      knowntime: known,
      citation: { url: `https://example.org/${subject}/${counter}`, tier: rnd() < 0.5 ? 'primary' : 'secondary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' },
      data,
    } as unknown as AnyEnvelope;
    out.push(e);
    byStream.set(subject, [...(byStream.get(subject) ?? []), e]);
    return e;
  };

  const newInstrument = (knownMs: number) => {
    instruments += 1;
    const jurisdiction = pick(rnd, JURISDICTIONS);
    const inst: Instrument = { id: `gen-${jurisdiction.toLowerCase()}-${instruments}`, jurisdiction, plan: [], step: 0, provisions: new Map() };
    const plan = inst.plan;
    plan.push('InstrumentProposed');
    for (let i = Math.floor(rnd() * 3); i > 0; i--) plan.push('PositionAdopted');
    if (rnd() < 0.1) plan.push('InstrumentLapsed');
    else {
      if (rnd() < 0.3) plan.push('PoliticalAgreementReached');
      plan.push('InstrumentAdopted');
      if (rnd() < 0.4) plan.push('InstrumentSigned');
      plan.push('InstrumentPublished', 'InstrumentEnteredIntoForce');
      for (let i = 1 + Math.floor(rnd() * 5); i > 0; i--) plan.push('ProvisionBecameApplicable');
      for (let i = 5 + Math.floor(rnd() * 55); i > 0; i--) plan.push(pick(rnd, EXTRAS));
      const endRoll = rnd();
      if (endRoll < 0.05) plan.push('InstrumentRevoked');
      else if (endRoll < 0.08) plan.push('InstrumentSuperseded');
    }
    active.push(inst);
    push(
      `instrument-${inst.id}`,
      'InstrumentRegistered',
      {
        instrumentId: inst.id,
        jurisdiction,
        kind: pick(rnd, KINDS),
        legalForce: pick(rnd, FORCE),
        issuingBody: `Body of ${jurisdiction}`,
        titles: { en: `Generated instrument ${instruments} of ${jurisdiction}` },
        identifiers: { gen: String(instruments) },
      },
      knownMs,
      knownMs,
    );
  };

  const progress = (inst: Instrument, knownMs: number) => {
    const type = inst.plan[inst.step] as string;
    inst.step += 1;
    if (inst.step >= inst.plan.length) active.splice(active.indexOf(inst), 1);
    const subject = `instrument-${inst.id}`;
    const base = { instrumentId: inst.id, summary: `${type} #${inst.step} of ${inst.id}` };
    switch (type) {
      case 'ProvisionBecameApplicable': {
        const provision = `Art. ${inst.provisions.size + 1}`;
        const at = knownMs + Math.floor(rnd() * 3 * 365) * DAY;
        inst.provisions.set(provision, iso(at));
        push(subject, type, { ...base, provision }, at, knownMs, iso(at));
        return;
      }
      case 'ApplicationPostponed':
      case 'ApplicationBroughtForward': {
        const provisions = [...inst.provisions.keys()];
        if (provisions.length === 0) {
          push(subject, 'GuidanceIssued', { ...base, guidanceKind: 'guidance', title: `Guidance ${inst.step}` }, knownMs, knownMs);
          return;
        }
        const provision = pick(rnd, provisions);
        const previousDate = inst.provisions.get(provision) as string;
        const prevMs = Date.parse(`${previousDate}T00:00:00Z`);
        const shift = (30 + Math.floor(rnd() * 700)) * DAY;
        const newMs = type === 'ApplicationPostponed' ? prevMs + shift : prevMs - Math.min(shift, 20 * 365 * DAY);
        const newDate = iso(newMs);
        if (newDate === previousDate) return;
        inst.provisions.set(provision, newDate);
        push(subject, type, { ...base, provision, previousDate, newDate }, knownMs + Math.floor(rnd() * 60) * DAY, knownMs);
        return;
      }
      case 'PositionAdopted':
        push(subject, type, { ...base, body: 'Parliament' }, knownMs, knownMs);
        return;
      case 'InstrumentPublished':
        push(subject, type, { ...base, publication: `Gazette ${inst.step}` }, knownMs, knownMs);
        return;
      case 'GuidanceIssued':
        push(subject, type, { ...base, guidanceKind: rnd() < 0.5 ? 'guidance' : 'code_of_practice', title: `Guidance ${inst.step}` }, knownMs, knownMs);
        return;
      case 'StandardPublished':
        push(subject, type, { ...base, standardNumber: `STD ${inst.step}` }, knownMs, knownMs);
        return;
      case 'InstrumentRevoked':
        push(subject, type, { ...base, mode: rnd() < 0.5 ? 'revoked' : 'repealed' }, knownMs, knownMs);
        return;
      case 'InstrumentSuperseded':
        push(subject, type, { ...base, byInstrument: `gen-successor-${inst.step}` }, knownMs, knownMs);
        return;
      case 'InstrumentEnteredIntoForce':
        push(subject, type, base, knownMs + Math.floor(rnd() * 40) * DAY, knownMs);
        return;
      default:
        push(subject, type, base, knownMs, knownMs);
    }
  };

  const stance = (knownMs: number) => {
    const jurisdiction = pick(rnd, STANCE_JURISDICTIONS);
    const dim = pick(rnd, CODEBOOK_V1.dimensions);
    const validMs = knownMs + Math.floor((rnd() - 0.3) * 400) * DAY;
    push(
      `stances-${jurisdiction.toLowerCase()}`,
      'StanceCoded',
      {
        jurisdiction,
        codebookVersion: CODEBOOK_V1.version,
        dimension: dim.id,
        value: stanceValue(rnd, dim),
        provisions: [`gen:${counter}`],
        evidence: `Generated evidence ${counter}`,
        coder: 'generator',
        confidence: Math.round((0.5 + rnd() * 0.5) * 100) / 100,
        basis: pick(rnd, FORCE),
      },
      validMs,
      knownMs,
    );
  };

  const amend = (knownMs: number, retract: boolean) => {
    const streams = [...byStream.keys()];
    if (streams.length === 0) return;
    const subject = pick(rnd, streams);
    const candidates = (byStream.get(subject) ?? []).filter((e) => e.type !== 'RecordCorrected' && e.type !== 'RecordRetracted' && (retract ? e.type !== 'InstrumentRegistered' : true));
    if (candidates.length === 0) return;
    const t = pick(rnd, candidates);
    const tKnown = Date.parse(t.knowntime.length === 10 ? `${t.knowntime}T00:00:00Z` : t.knowntime);
    const k = Math.max(knownMs, tKnown + DAY);
    if (retract) {
      push(subject, 'RecordRetracted', { targetEventId: t.id, reason: 'generated retraction' }, k, k);
      return;
    }
    let changes: Record<string, unknown>;
    const vtShift = () => iso(Date.parse(`${t.validtime.slice(0, 10)}T00:00:00Z`) + Math.floor((rnd() - 0.5) * 120) * DAY);
    if (t.type === 'StanceCoded') {
      const dim = CODEBOOK_V1.dimensions.find((d) => d.id === t.data.dimension) as CodebookDimension;
      const roll = rnd();
      changes = roll < 0.5 ? { value: stanceValue(rnd, dim) } : roll < 0.75 ? { confidence: 0.55 } : { validtime: vtShift() };
    } else if (t.type === 'InstrumentRegistered') {
      changes = { issuingBody: `Corrected body ${counter}` };
    } else if (t.type === 'ApplicationPostponed' || t.type === 'ApplicationBroughtForward') {
      changes = { summary: `Corrected ${counter}` };
    } else {
      changes = rnd() < 0.5 ? { summary: `Corrected ${counter}` } : { validtime: vtShift() };
    }
    push(subject, 'RecordCorrected', { targetEventId: t.id, changes, reason: 'generated correction' }, k, k);
  };

  while (out.length < target) {
    clock += step * (0.5 + rnd());
    // Some knowledge is backfilled: known well before it is logged (mostly instrument history).
    const backdated = Math.max(start - 365 * DAY, clock - Math.floor(rnd() * 3 * 365) * DAY);
    const roll = rnd();
    const known = roll < 0.05 ? backdated : clock;
    const r = rnd();
    if (r < stanceShare) stance(roll < 0.01 ? backdated : clock);
    else if (r < stanceShare + corrShare) amend(known, false);
    else if (r < stanceShare + corrShare + retrShare) amend(known, true);
    else if (active.length === 0 || rnd() < 1 / 40) newInstrument(known);
    else progress(pick(rnd, active), known);
  }
  return out.slice(0, target);
}
