import { CODEBOOK_V1 } from '../codebook/v1';
import type { Codebook } from '../codebook/types';
import { type FieldIssue, parseEventData, type AnyEnvelope } from '../events/envelope';
import { compareInstants } from '../time';
import type { CorpusFile, CorpusInstrument, CorpusMilestone, CorpusStance } from './schema';

export interface CorpusDocument {
  /** File name, for error messages and idempotency keys. */
  readonly name: string;
  readonly doc: CorpusFile;
  /** Maps a path inside the document (e.g. `instruments[3].milestones[2]`) to a line number. */
  readonly lineOf?: (path: readonly (string | number)[]) => number | undefined;
}

export interface CorpusIssue extends FieldIssue {
  readonly file: string;
  readonly line?: number;
}

export interface CorpusEvents {
  readonly events: AnyEnvelope[];
  readonly issues: CorpusIssue[];
}

export const CORPUS_SOURCE = 'regstream/corpus';

/**
 * Turns corpus documents into envelopes. Deterministic: ids derive from idempotency keys through the
 * injected `idFor`, and `time` is the known time, so importing twice yields identical events.
 */
export function corpusToEvents(
  docs: readonly CorpusDocument[],
  idFor: (idempotencyKey: string) => string,
  codebook: Codebook = CODEBOOK_V1,
): CorpusEvents {
  const events: AnyEnvelope[] = [];
  const issues: CorpusIssue[] = [];
  const seenInstruments = new Map<string, string>();
  const seenKeys = new Set<string>();

  const push: Push = (doc, path, e) => {
    let key = e.idempotencykey;
    for (let n = 2; seenKeys.has(key); n++) key = `${e.idempotencykey}#${n}`;
    seenKeys.add(key);
    const parsed = parseEventData(e.type, 1, e.data, 'data');
    if (!parsed.ok) {
      for (const i of parsed.issues) issues.push({ ...i, file: doc.name, path: [...path.map(String), i.path].join('.'), line: doc.lineOf?.(path) });
      return;
    }
    events.push({
      ...e,
      specversion: '1.0',
      id: idFor(key),
      source: CORPUS_SOURCE,
      schemaversion: 1,
      time: `${e.knowntime.slice(0, 10)}T00:00:00.000Z`,
      datacontenttype: 'application/json',
      idempotencykey: key,
      data: parsed.value.data,
    } as AnyEnvelope);
  };

  events.push({
    specversion: '1.0',
    id: idFor(`codebook/${codebook.version}`),
    source: CORPUS_SOURCE,
    type: 'CodebookPublished',
    schemaversion: 1,
    subject: 'codebook',
    time: `${codebook.publishedOn}T00:00:00.000Z`,
    datacontenttype: 'application/json',
    validtime: codebook.publishedOn,
    knowntime: codebook.publishedOn,
    idempotencykey: `codebook/${codebook.version}`,
    data: { codebook },
  });
  seenKeys.add(`codebook/${codebook.version}`);

  const forceOf = new Map<string, string>();
  for (const doc of docs) for (const inst of doc.doc.instruments ?? []) forceOf.set(inst.id, inst.legalForce);

  for (const doc of docs) {
    (doc.doc.instruments ?? []).forEach((inst, i) => {
      const where = ['instruments', i];
      const dup = seenInstruments.get(inst.id);
      if (dup) {
        issues.push({ file: doc.name, path: `instruments[${i}].id`, message: `instrument '${inst.id}' is already defined in ${dup}`, line: doc.lineOf?.([...where, 'id']) });
        return;
      }
      seenInstruments.set(inst.id, doc.name);
      instrumentEvents(doc, inst, where, push);
    });
    (doc.doc.stances ?? []).forEach((s, i) => {
      const where = ['stances', i];
      const forces = s.provisions.map((p) => forceOf.get(p.split(':')[0] ?? ''));
      if (s.basis === undefined && forces.some((f) => f === undefined)) {
        issues.push({ file: doc.name, path: `stances[${i}].provisions`, message: 'cites an instrument outside the corpus: add it, or state the basis', line: doc.lineOf?.([...where, 'provisions']) });
        return;
      }
      const rank = { binding: 3, voluntary: 2, political: 1 } as Record<string, number>;
      const basis = s.basis ?? forces.reduce<string | undefined>((best, f) => ((rank[f ?? ''] ?? 0) > (rank[best ?? ''] ?? 0) ? f : best), undefined);
      stanceEvent(doc, { ...s, ...(basis ? { basis: basis as CorpusStance['basis'] } : {}) }, where, codebook, push);
    });
  }
  return { events, issues };
}

interface Draft {
  type: AnyEnvelope['type'];
  subject: string;
  validtime: string;
  knowntime: string;
  idempotencykey: string;
  citation?: AnyEnvelope['citation'];
  data: Record<string, unknown>;
}
type Push = (doc: CorpusDocument, path: (string | number)[], e: Draft) => void;

function milestoneDetail(m: CorpusMilestone): string {
  switch (m.type) {
    case 'ProvisionBecameApplicable':
    case 'ApplicationPostponed':
    case 'ApplicationBroughtForward':
      return m.provision;
    case 'GuidanceIssued':
      return m.title;
    case 'StandardPublished':
      return m.standardNumber;
    case 'PositionAdopted':
      return m.body ?? '';
    default:
      return '';
  }
}

function instrumentEvents(
  doc: CorpusDocument,
  inst: CorpusInstrument,
  where: (string | number)[],
  push: Push,
): void {
  const subject = `instrument-${inst.id}`;
  const ordered = inst.milestones
    .map((m, idx) => ({ m, idx }))
    // Stream order follows what became known first; a postponement can only follow the date it moves.
    .sort((x, y) => compareInstants(x.m.knownAt, y.m.knownAt) || compareInstants(x.m.validFrom, y.m.validFrom) || x.idx - y.idx);
  const first = ordered.reduce((acc, { m }) => (compareInstants(m.knownAt, acc) < 0 ? m.knownAt : acc), ordered[0]?.m.knownAt ?? '9999-12-31');
  const firstValid = ordered.reduce((acc, { m }) => (compareInstants(m.validFrom, acc) < 0 ? m.validFrom : acc), ordered[0]?.m.validFrom ?? '9999-12-31');
  push(doc, where, {
    type: 'InstrumentRegistered',
    subject,
    validtime: firstValid,
    knowntime: first,
    idempotencykey: `corpus/${inst.id}/InstrumentRegistered`,
    citation: inst.citation,
    data: {
      instrumentId: inst.id,
      jurisdiction: inst.jurisdiction,
      kind: inst.kind,
      legalForce: inst.legalForce,
      issuingBody: inst.issuingBody,
      titles: inst.titles,
      identifiers: inst.identifiers ?? {},
    },
  });
  for (const { m, idx } of ordered) {
    const { type, validFrom, knownAt, citation, ...rest } = m;
    push(doc, [...where, 'milestones', idx], {
      type,
      subject,
      validtime: validFrom,
      knowntime: knownAt,
      idempotencykey: `corpus/${inst.id}/${type}/${validFrom}/${milestoneDetail(m)}`,
      citation,
      data: { instrumentId: inst.id, ...rest },
    });
  }
}

function stanceEvent(doc: CorpusDocument, s: CorpusStance, where: (string | number)[], codebook: Codebook, push: Push): void {
  push(doc, where, {
    type: 'StanceCoded',
    subject: `stances-${s.jurisdiction.toLowerCase()}`,
    validtime: s.validFrom,
    knowntime: s.knownAt,
    idempotencykey: `corpus/stance/${s.jurisdiction}/${s.dimension}/${s.validFrom}`,
    citation: s.citation,
    data: {
      jurisdiction: s.jurisdiction,
      codebookVersion: s.codebookVersion ?? codebook.version,
      dimension: s.dimension,
      value: s.value,
      provisions: s.provisions,
      evidence: s.evidence,
      coder: s.coder,
      confidence: s.confidence,
      ...(s.basis ? { basis: s.basis } : {}),
    },
  });
}
