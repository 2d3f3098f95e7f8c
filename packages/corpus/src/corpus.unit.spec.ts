import { type AnyEnvelope, applicability, asKnownAt, instrumentDecider, isMilestoneType, type LogEvent } from '@regstream/domain';
import { DEFAULT_CORPUS_DIR, loadCorpus } from './load';

const corpus = loadCorpus(DEFAULT_CORPUS_DIR);
const log: LogEvent[] = corpus.events.map((e, i) => ({ ...e, order: i }));

describe('the shipped corpus', () => {
  it('validates against the schemas (loadCorpus throws otherwise) and has at least 150 dated events', () => {
    const dated = corpus.events.filter((e) => isMilestoneType(e.type));
    expect(dated.length).toBeGreaterThanOrEqual(150);
  });

  it('spans 2016 to the present', () => {
    const years = corpus.events.filter((e) => isMilestoneType(e.type)).map((e) => Number(e.validtime.slice(0, 4)));
    expect(Math.min(...years)).toBeLessThanOrEqual(2016);
    expect(Math.max(...years)).toBeGreaterThanOrEqual(2026);
  });

  it('cites a source URL for every instrument, milestone and stance', () => {
    for (const e of corpus.events) {
      if (e.type === 'CodebookPublished') continue;
      expect(e.citation?.url).toMatch(/^https?:\/\//);
    }
  });

  it('never knows an occurrence before it happened', () => {
    // Proposals, adoptions, publications and the like are known on the day they happen or later;
    // only dates in force or applicable may be known in advance.
    const occurrences = new Set(['InstrumentProposed', 'PositionAdopted', 'PoliticalAgreementReached', 'InstrumentAdopted', 'InstrumentSigned', 'InstrumentPublished', 'InstrumentLapsed', 'GuidanceIssued', 'StandardPublished']);
    const early = corpus.events.filter((e) => occurrences.has(e.type) && e.knowntime < e.validtime).map((e) => `${e.subject} ${e.type} ${e.validtime} known ${e.knowntime}`);
    expect(early).toEqual([]);
  });

  it.each([
    ['EU', ['eu-gdpr', 'eu-ai-act']],
    ['CN', ['cn-pipl', 'cn-dsl', 'cn-genai-interim-measures', 'cn-ai-content-labeling-measures', 'cn-global-ai-governance-action-plan']],
    ['US', ['us-eo-14110', 'us-nist-ai-rmf']],
  ])('covers the required %s instruments', (_j, ids) => {
    const registered = new Set(corpus.events.filter((e) => e.type === 'InstrumentRegistered').map((e) => (e.data as { instrumentId: string }).instrumentId));
    for (const id of ids) expect(registered).toContain(id);
  });

  it('respects the instrument rules on every stream (registration first, postponements move the current date)', () => {
    const streams = new Map<string, AnyEnvelope[]>();
    for (const e of corpus.events) {
      if (!e.subject.startsWith('instrument-')) continue;
      streams.set(e.subject, [...(streams.get(e.subject) ?? []), e]);
    }
    const problems: string[] = [];
    for (const [subject, events] of streams) {
      let state = instrumentDecider.initialState();
      for (const e of events) {
        try {
          for (const out of instrumentDecider.decide({ type: 'RecordInstrumentEvent', event: e }, state)) state = instrumentDecider.evolve(state, out);
        } catch (err) {
          problems.push(`${subject} ${e.type}: ${(err as Error).message}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('knows the Annex III postponement only once the amending act was published', () => {
    const annex = (knownAt: string) =>
      applicability(asKnownAt(log, knownAt), { instrumentId: 'eu-ai-act' }).find((a) => /annex iii/i.test(a.provision));
    expect(annex('2026-06-01')?.appliesFrom).toBe('2026-08-02');
    expect(annex('2026-08-01')?.appliesFrom).toBe('2027-12-02');
  });
});
