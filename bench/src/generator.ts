import {
  type AnyEnvelope,
  CODEBOOK_V1,
  type CodebookDimension,
  type FieldIssue,
  instrumentDecider,
  InstrumentRuleViolation,
  type InstrumentState,
  parseNewEvent,
} from '@regstream/domain';
import { Rng } from './rng';

/**
 * Synthetic histories shaped like the real corpus: many jurisdictions (a few very active, a long tail),
 * instruments that go through a lifecycle (registered, proposed, adopted, in force, provisions applying,
 * postponed, amended, sometimes lapsed or repealed), stance codings that change over time, and
 * corrections and retractions of earlier records. Seeded and lazy: a 1M-event history is never held
 * in memory. Every event is what a client would POST to /v1/events (ids included, so appends are
 * reproducible), and respects the domain's schemas and the instrument decider.
 */

/** The body of one event as a client posts it. */
export interface GenEvent {
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly validtime: string;
  readonly knowntime: string;
  readonly source: string;
  readonly citation?: { url: string; tier: 'primary' | 'secondary'; retrievedAt: string; lastVerifiedAt: string; pinpoint?: string };
  readonly data: Record<string, unknown>;
}

export interface GeneratorOptions {
  readonly seed: number;
  readonly events: number;
  /** Prefix of every instrument id, so several histories can share one database without colliding. */
  readonly namespace?: string;
  /**
   * Known-time span the history is spread over (default 2016-01-01 to 2026-11-28: a backfill).
   * A live feed uses a span of a day: everything is known as it arrives.
   */
  readonly span?: { readonly from: string; readonly to: string };
}

const COUNTRIES = [
  'US', 'CN', 'GB', 'DE', 'FR', 'JP', 'KR', 'IN', 'CA', 'BR', 'AU', 'SG', 'IT', 'ES', 'NL', 'SE', 'CH', 'IL', 'AE', 'SA',
  'MX', 'AR', 'CL', 'CO', 'PE', 'ZA', 'NG', 'KE', 'EG', 'MA', 'TR', 'RU', 'UA', 'PL', 'CZ', 'AT', 'BE', 'DK', 'FI', 'NO',
  'IE', 'PT', 'GR', 'HU', 'RO', 'BG', 'HR', 'SI', 'SK', 'EE', 'LV', 'LT', 'LU', 'MT', 'CY', 'NZ', 'ID', 'MY', 'TH', 'VN',
  'PH', 'PK', 'BD', 'LK', 'TW', 'HK', 'QA', 'KW', 'JO', 'RW', 'GH', 'UY', 'PY', 'EC', 'CR', 'PA', 'IS', 'KZ', 'UZ', 'GE',
];
const SUBNATIONAL = ['US-CA', 'US-NY', 'US-CO', 'US-TX', 'US-IL', 'US-UT', 'US-VA', 'US-WA', 'CA-QC', 'CA-ON', 'AU-NSW', 'DE-BY', 'CN-SH', 'CN-GD', 'IN-KA'];
const INTERNATIONAL = ['EU', 'INTL-OECD', 'INTL-UN', 'INTL-COE', 'INTL-G7', 'INTL-UNESCO', 'INTL-ISO', 'INTL-GPAI'];

/** Jurisdictions by activity: EU, US, CN first, then a long tail (Zipf weights). */
export const JURISDICTIONS: readonly string[] = ['EU', 'US', 'CN', ...COUNTRIES.filter((c) => c !== 'US' && c !== 'CN'), ...SUBNATIONAL, ...INTERNATIONAL.slice(1)];
const CUMULATIVE_WEIGHTS: readonly number[] = (() => {
  let acc = 0;
  return JURISDICTIONS.map((_, i) => (acc += 1 / Math.pow(i + 1, 0.9)));
})();
/**
 * Stances are coded for the most active jurisdictions only (the real corpus codes 7): coders follow
 * the regimes that matter, while instruments are recorded everywhere.
 */
export const CODED_JURISDICTIONS = 30;
const STANCE_WEIGHTS: readonly number[] = CUMULATIVE_WEIGHTS.slice(0, CODED_JURISDICTIONS);

type Kind = 'law' | 'regulation' | 'executive_order' | 'guideline' | 'standard' | 'strategy' | 'declaration' | 'treaty';
const KINDS: readonly { kind: Kind; force: 'binding' | 'voluntary' | 'political'; weight: number }[] = [
  { kind: 'law', force: 'binding', weight: 3 },
  { kind: 'regulation', force: 'binding', weight: 3 },
  { kind: 'executive_order', force: 'binding', weight: 1 },
  { kind: 'guideline', force: 'voluntary', weight: 3 },
  { kind: 'standard', force: 'voluntary', weight: 1.5 },
  { kind: 'strategy', force: 'political', weight: 2 },
  { kind: 'declaration', force: 'political', weight: 1 },
  { kind: 'treaty', force: 'binding', weight: 0.5 },
];
const KIND_CUMULATIVE = (() => {
  let acc = 0;
  return KINDS.map((k) => (acc += k.weight));
})();

const PROVISIONS = ['general', 'prohibitions', 'transparency', 'high-risk', 'gpai', 'penalties', 'governance', 'registration', 'labelling', 'audits'];
const DAY = 86_400_000;
const START_MS = Date.UTC(2016, 0, 1);
const END_MS = Date.UTC(2026, 10, 28);

const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const toMs = (d: string) => Date.parse(`${d}T00:00:00Z`);

interface Instrument {
  readonly id: string;
  readonly subject: string;
  readonly jurisdiction: string;
  readonly kind: Kind;
  readonly force: 'binding' | 'voluntary' | 'political';
  /** Index of the next lifecycle step; past the end, the instrument is mature. */
  step: number;
  readonly path: readonly string[];
  cursor: number;
  lapsed: boolean;
  readonly provisions: Map<string, string>;
  /** Events that a correction or retraction may target (milestones other than dates that others depend on). */
  readonly correctable: string[];
  matureSteps: number;
}

interface StanceStream {
  readonly subject: string;
  readonly values: Map<string, number | string | string[]>;
  readonly correctable: string[];
}

function lifecycle(rng: Rng, kind: Kind): string[] {
  const binding = kind === 'law' || kind === 'regulation' || kind === 'treaty';
  const path: string[] = [];
  if (binding || rng.chance(0.4)) path.push('InstrumentProposed');
  if (binding) {
    for (let i = rng.int(0, 2); i > 0; i--) path.push('PositionAdopted');
    if (rng.chance(0.5)) path.push('PoliticalAgreementReached');
  }
  if (kind !== 'standard') path.push('InstrumentAdopted');
  if (kind === 'treaty' || rng.chance(0.3)) path.push('InstrumentSigned');
  path.push(kind === 'standard' ? 'StandardPublished' : 'InstrumentPublished');
  if (kind !== 'declaration' && kind !== 'strategy') {
    path.push('InstrumentEnteredIntoForce');
    for (let i = binding ? rng.int(1, 3) : rng.int(0, 1); i > 0; i--) path.push('ProvisionBecameApplicable');
  }
  return path;
}

/** Lazily yields `events` valid events; the same options always yield the same sequence. */
export function* generateHistory(opts: GeneratorOptions): Generator<GenEvent> {
  const rng = new Rng(opts.seed);
  const ns = opts.namespace ? `${opts.namespace}-` : '';
  const active: Instrument[] = [];
  const stances = new Map<string, StanceStream>();
  const serial = new Map<string, number>();
  let produced = 0;

  const spanStart = opts.span ? toMs(opts.span.from) : START_MS;
  const spanEnd = opts.span ? toMs(opts.span.to) : END_MS;
  const clock = () => spanStart + Math.floor(((spanEnd - spanStart) * produced) / Math.max(1, opts.events));
  const citation = (subject: string, id: string, known: string): GenEvent['citation'] => ({
    url: `https://law.example.org/${subject}/${id.slice(0, 8)}`,
    tier: rng.chance(0.8) ? 'primary' : 'secondary',
    retrievedAt: known,
    lastVerifiedAt: known,
    ...(rng.chance(0.5) ? { pinpoint: `art. ${rng.int(1, 120)}` } : {}),
  });
  const emit = (type: string, subject: string, validtime: string, knowntime: string, data: Record<string, unknown>): GenEvent => {
    produced += 1;
    const id = rng.uuid();
    return { id, type, subject, validtime, knowntime, source: '/bench/generator', citation: citation(subject, id, knowntime), data };
  };

  const register = (): GenEvent => {
    const jurisdiction = JURISDICTIONS[rng.weighted(CUMULATIVE_WEIGHTS)] as string;
    const k = KINDS[rng.weighted(KIND_CUMULATIVE)] as (typeof KINDS)[number];
    const n = (serial.get(jurisdiction) ?? 0) + 1;
    serial.set(jurisdiction, n);
    const id = `${ns}${jurisdiction.toLowerCase()}-ai-${k.kind.replace(/_/g, '-')}-${n}`;
    const now = clock();
    const inst: Instrument = {
      id,
      subject: `instrument-${id}`,
      jurisdiction,
      kind: k.kind,
      force: k.force,
      step: 0,
      path: lifecycle(rng, k.kind),
      cursor: now,
      lapsed: false,
      provisions: new Map(),
      correctable: [],
      matureSteps: rng.int(0, 6),
    };
    active.push(inst);
    const d = iso(now);
    return emit('InstrumentRegistered', inst.subject, d, d, {
      instrumentId: id,
      jurisdiction,
      kind: k.kind,
      legalForce: k.force,
      issuingBody: `${jurisdiction} ${k.force === 'binding' ? 'legislature' : 'ministry'}`,
      titles: { en: `${jurisdiction} artificial intelligence ${k.kind.replace(/_/g, ' ')} no. ${n}` },
      identifiers: { ref: `${jurisdiction}-${n}` },
    });
  };

  const retire = (inst: Instrument) => {
    const i = active.indexOf(inst);
    if (i >= 0) {
      active[i] = active[active.length - 1] as Instrument;
      active.pop();
    }
  };

  const advance = (inst: Instrument): GenEvent => {
    inst.cursor = Math.min(spanEnd, Math.max(inst.cursor + rng.int(7, 180) * DAY, clock()));
    const at = iso(inst.cursor);
    const base = { instrumentId: inst.id, ...(rng.chance(0.6) ? { summary: `${inst.id}: step ${inst.step + 1}` } : {}) };
    // Before adoption, some instruments die.
    const preAdoption = inst.step < inst.path.length && inst.path.slice(inst.step).includes('InstrumentAdopted');
    if (preAdoption && !inst.lapsed && rng.chance(0.04)) {
      inst.lapsed = true;
      retire(inst);
      return emit('InstrumentLapsed', inst.subject, at, at, base);
    }
    if (inst.step < inst.path.length) {
      const type = inst.path[inst.step] as string;
      inst.step += 1;
      if (type === 'ProvisionBecameApplicable') {
        const provision = PROVISIONS.find((p) => !inst.provisions.has(p)) ?? `provision-${inst.provisions.size}`;
        // Applicability is known at entry into force and lies months or years ahead.
        const applies = iso(inst.cursor + rng.int(90, 1100) * DAY);
        inst.provisions.set(provision, applies);
        return emit(type, inst.subject, applies, at, { ...base, provision });
      }
      const e = emit(type, inst.subject, at, at, type === 'PositionAdopted' ? { ...base, body: rng.pick(['council', 'parliament', 'senate', 'house']) } : type === 'StandardPublished' ? { ...base, standardNumber: `STD ${rng.int(1000, 99999)}` } : base);
      if (type !== 'InstrumentPublished' && type !== 'InstrumentEnteredIntoForce') inst.correctable.push(e.id);
      return e;
    }
    // Mature: postponements move the current date, amendments, guidance; finally some end.
    inst.matureSteps -= 1;
    const provisions = [...inst.provisions.entries()];
    const roll = rng.next();
    if (provisions.length > 0 && roll < 0.35) {
      const [provision, current] = rng.pick(provisions);
      const forward = rng.chance(0.12);
      const newDate = iso(toMs(current) + (forward ? -rng.int(30, 120) : rng.int(90, 540)) * DAY);
      inst.provisions.set(provision, newDate);
      return emit(forward ? 'ApplicationBroughtForward' : 'ApplicationPostponed', inst.subject, at, at, { ...base, provision, previousDate: current, newDate });
    }
    if (inst.matureSteps < 0 && roll < 0.6) {
      retire(inst);
      if (rng.chance(0.5)) return emit('InstrumentRevoked', inst.subject, at, at, { ...base, mode: rng.chance(0.5) ? 'revoked' : 'repealed' });
      return emit('InstrumentSuperseded', inst.subject, at, at, { ...base, byInstrument: `${inst.id}-successor` });
    }
    if (roll < 0.7) {
      const e = emit('InstrumentAmended', inst.subject, at, at, base);
      inst.correctable.push(e.id);
      return e;
    }
    const e = emit('GuidanceIssued', inst.subject, at, at, { ...base, guidanceKind: rng.chance(0.7) ? 'guidance' : 'code_of_practice', title: `Guidance on ${inst.id}` });
    inst.correctable.push(e.id);
    return e;
  };

  const stanceValue = (dim: CodebookDimension, prior: number | string | string[] | undefined): number | string | string[] => {
    switch (dim.scale) {
      case 'ordinal': {
        const ranks = dim.levels.map((l) => l.rank ?? 0);
        if (typeof prior === 'number') {
          const next = prior + (rng.chance(0.7) ? 1 : -1);
          if (ranks.includes(next)) return next;
        }
        return rng.pick(ranks);
      }
      case 'nominal':
        return rng.pick(dim.levels.map((l) => l.id));
      case 'set': {
        const ids = dim.levels.map((l) => l.id);
        const set = new Set(Array.isArray(prior) ? prior : []);
        for (let i = rng.int(1, 2); i > 0; i--) set.add(rng.pick(ids));
        if (set.size > 1 && rng.chance(0.2)) set.delete(rng.pick([...set]));
        return ids.filter((x) => set.has(x));
      }
      default:
        return rng.pick(dim.levels.map((l) => l.id));
    }
  };

  const stance = (): GenEvent => {
    const jurisdiction = JURISDICTIONS[rng.weighted(STANCE_WEIGHTS)] as string;
    const subject = `stances-${jurisdiction.toLowerCase()}`;
    let s = stances.get(subject);
    if (!s) {
      s = { subject, values: new Map(), correctable: [] };
      stances.set(subject, s);
    }
    const dim = rng.pick(CODEBOOK_V1.dimensions);
    const value = stanceValue(dim, s.values.get(dim.id));
    s.values.set(dim.id, value);
    const d = iso(clock());
    const e = emit('StanceCoded', subject, d, d, {
      jurisdiction,
      codebookVersion: CODEBOOK_V1.version,
      dimension: dim.id,
      value,
      provisions: rng.chance(0.5) ? [`${jurisdiction} art. ${rng.int(1, 90)}`] : [],
      evidence: `Coded from the ${jurisdiction} record as of ${d}.`,
      coder: rng.pick(['coder-a', 'coder-b', 'coder-c']),
      confidence: Math.round((0.5 + rng.next() * 0.5) * 100) / 100,
      ...(rng.chance(0.8) ? { basis: rng.pick(['binding', 'voluntary', 'political'] as const) } : {}),
    });
    s.correctable.push(e.id);
    if (s.correctable.length > 64) s.correctable.shift();
    return e;
  };

  const correct = (): GenEvent | null => {
    const fromStance = rng.chance(0.4) && stances.size > 0;
    if (fromStance) {
      const s = rng.pick([...stances.values()]);
      const target = s.correctable.length ? rng.pick(s.correctable) : undefined;
      if (!target) return null;
      const d = iso(clock());
      s.correctable.splice(s.correctable.indexOf(target), 1);
      return emit('RecordCorrected', s.subject, d, d, { targetEventId: target, changes: { confidence: Math.round(rng.next() * 100) / 100 }, reason: 'recoded after review' });
    }
    const candidates = active.length ? [rng.pick(active), rng.pick(active)] : [];
    const inst = candidates.find((c) => c.correctable.length > 0);
    if (!inst) return null;
    const target = rng.pick(inst.correctable);
    inst.correctable.splice(inst.correctable.indexOf(target), 1);
    const d = iso(Math.max(inst.cursor, clock()));
    if (rng.chance(0.15)) return emit('RecordRetracted', inst.subject, d, d, { targetEventId: target, reason: 'source withdrawn' });
    const changes = rng.chance(0.5) ? { summary: 'corrected summary' } : { validtime: iso(inst.cursor - rng.int(1, 30) * DAY) };
    return emit('RecordCorrected', inst.subject, d, d, { targetEventId: target, changes, reason: 'primary source re-read' });
  };

  while (produced < opts.events) {
    const roll = rng.next();
    let e: GenEvent | null;
    if (active.length < 20 || roll < 0.12) e = register();
    else if (roll < 0.37) e = stance();
    else if (roll < 0.41) e = correct() ?? advance(rng.pick(active));
    else e = advance(rng.pick(active));
    yield e;
  }
}

/** The first `n` events of a history, in memory (small sizes and tests). */
export function takeHistory(opts: GeneratorOptions): GenEvent[] {
  return [...generateHistory(opts)];
}

/** FNV-1a: stable stream → client assignment, so one stream is always written by one client, in order. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export const FIXED_NOW = new Date('2026-11-29T00:00:00.000Z');

/** The complete envelope the ingest service would build from this input at `now`. */
export function toEnvelope(e: GenEvent, now: Date = FIXED_NOW): AnyEnvelope {
  const r = parseNewEvent(e, { now, newId: () => e.id, defaultSource: '/bench' });
  if (!r.ok) throw new Error(`generated event ${e.id} (${e.type}) is invalid: ${r.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return r.value.envelope;
}

/**
 * Checks a history as the ingest service would: schemas, the decider on each instrument stream,
 * and correction targets inside their own stream. Returns every problem found.
 */
export function validateHistory(events: Iterable<GenEvent>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const states = new Map<string, InstrumentState>();
  const streamIds = new Map<string, Set<string>>();
  let i = 0;
  for (const e of events) {
    const at = `events[${i++}]`;
    const r = parseNewEvent(e, { now: FIXED_NOW, newId: () => e.id, defaultSource: '/bench' }, at);
    if (!r.ok) {
      issues.push(...r.issues);
      continue;
    }
    const env = r.value.envelope;
    const ids = streamIds.get(env.subject) ?? new Set<string>();
    streamIds.set(env.subject, ids);
    if (env.subject.startsWith('instrument-')) {
      const state = states.get(env.subject) ?? instrumentDecider.initialState();
      try {
        let next = state;
        for (const out of instrumentDecider.decide({ type: 'RecordInstrumentEvent', event: env }, state)) next = instrumentDecider.evolve(next, out);
        states.set(env.subject, next);
      } catch (err) {
        if (!(err instanceof InstrumentRuleViolation)) throw err;
        issues.push({ path: `${at}.${err.path}`, message: err.message });
      }
    } else if ((env.type === 'RecordCorrected' || env.type === 'RecordRetracted') && !ids.has(env.data.targetEventId)) {
      issues.push({ path: `${at}.data.targetEventId`, message: 'target is not in this stream' });
    }
    ids.add(env.id);
  }
  return issues;
}
