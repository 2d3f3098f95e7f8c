import { performance } from 'node:perf_hooks';
import { loadCorpus, DEFAULT_CORPUS_DIR } from '@regstream/corpus';
import type { StoredEvent } from '@regstream/domain';
import type { AlertsDb } from '../db';
import { AlertsRepository } from '../repository';
import type { Filters, Subscription } from '../subscriptions/model';
import { event, registered, stance } from '../testing/harness';
import { applicabilityChanges, factsOf, filtersMatch, KeptState, logEvent, thresholdHit } from './engine';
import { Matcher, Plan } from './matcher';

let position = 0;
const stored = (e: ReturnType<typeof event>, recordedtime = '2026-11-29T12:00:00.000Z'): StoredEvent =>
  ({ ...e, recordedtime, streamversion: 1, position: String(++position) });

const repo = new AlertsRepository({ kind: 'sqlite', query: () => Promise.resolve([]), batch: () => Promise.resolve([]) } satisfies AlertsDb);

function sub(id: string, rule: Subscription['rule'], filters: Filters = {}, createdAt = '2026-11-29T00:00:00.000Z'): Subscription {
  return {
    id,
    principal: 'p',
    name: id,
    filters,
    rule,
    channel: { kind: 'sse' },
    secret: 'whsec_AAAA',
    previousSecret: null,
    previousSecretUntil: null,
    status: 'active',
    statusReason: null,
    createdAt,
    updatedAt: createdAt,
  };
}

describe('thresholds', () => {
  it('crosses X in either direction and moves by at least Δ', () => {
    expect(thresholdHit({ crosses: 0.5 }, 0.4, 0.5)).toMatchObject({ crossed: 'up' });
    expect(thresholdHit({ crosses: 0.5 }, 0.5, 0.49)).toMatchObject({ crossed: 'down' });
    expect(thresholdHit({ crosses: 0.5 }, 0.6, 0.7)).toBeNull();
    expect(thresholdHit({ movesBy: 0.1 }, 0.2, 0.3)).toMatchObject({ moved: true, crossed: null });
    expect(thresholdHit({ movesBy: 0.1 }, 0.3, 0.2)).toMatchObject({ moved: true });
    expect(thresholdHit({ movesBy: 0.1 }, 0.2, 0.29)).toBeNull();
    expect(thresholdHit({ crosses: 0.5, movesBy: 0.1 }, null, 0.9)).toBeNull();
  });
});

describe('facts and filters', () => {
  it('reads what an event is about, corrections included', () => {
    const state = new KeptState();
    const reg = logEvent(stored(registered('eu-ai-act', 'EU')));
    state.add(reg);
    const s = logEvent(stored(stance('CN', 'algorithm_audit', 2)));
    state.add(s);
    expect(factsOf(s, state)).toEqual({ type: 'StanceCoded', jurisdiction: 'CN', instruments: ['cn-act'], dimension: 'algorithm_audit' });
    const fix = logEvent(stored(event('RecordCorrected', { targetEventId: s.id, changes: { value: 3 }, reason: 'r' }, { validtime: '2024-01-01', subject: 'stances-cn' })));
    expect(factsOf(fix, state)).toMatchObject({ type: 'RecordCorrected', jurisdiction: 'CN', dimension: 'algorithm_audit' });
    const pub = logEvent(stored(event('InstrumentPublished', { instrumentId: 'eu-ai-act' }, { validtime: '2024-07-12' })));
    const facts = factsOf(pub, state);
    expect(facts).toEqual({ type: 'InstrumentPublished', jurisdiction: 'EU', instruments: ['eu-ai-act'], dimension: null });
    expect(filtersMatch({ jurisdictions: ['EU', 'US'], eventTypes: ['InstrumentPublished'] }, facts)).toBe(true);
    expect(filtersMatch({ jurisdictions: ['US'] }, facts)).toBe(false);
    expect(filtersMatch({ instruments: ['eu-ai-act'] }, facts)).toBe(true);
    expect(filtersMatch({ dimensions: ['human_oversight'] }, facts)).toBe(false);
  });

  it('diffs applicability dates per provision', () => {
    const a = logEvent(stored(event('ProvisionBecameApplicable', { instrumentId: 'x-act', provision: 'Art. 1' }, { validtime: '2027-08-02', knowntime: '2024-07-12' })));
    const p = logEvent(stored(event('ApplicationPostponed', { instrumentId: 'x-act', provision: 'Art. 1', previousDate: '2027-08-02', newDate: '2028-08-02' }, { validtime: '2027-01-01' })));
    expect(applicabilityChanges('x-act', [], [a])).toEqual([{ instrumentId: 'x-act', provision: 'Art. 1', before: null, after: '2027-08-02' }]);
    expect(applicabilityChanges('x-act', [a], [a, p])).toEqual([{ instrumentId: 'x-act', provision: 'Art. 1', before: '2027-08-02', after: '2028-08-02' }]);
    expect(applicabilityChanges('x-act', [a, p], [a, p])).toEqual([]);
  });
});

describe('matcher', () => {
  it('does not alert for events recorded before the subscription existed (replays)', () => {
    const m = new Matcher(repo, () => 8);
    const state = new KeptState();
    const s = sub('s1', { kind: 'event' }, { jurisdictions: ['CN'] }, '2026-11-29T10:00:00.000Z');
    const plan = new Plan();
    m.process(stored(registered('cn-rule', 'CN'), '2026-11-29T09:59:59.999Z'), [s], state, new Date(), plan);
    expect(plan.alerts).toBe(0);
    m.process(stored(event('InstrumentPublished', { instrumentId: 'cn-rule' }, { validtime: '2026-01-01' }), '2026-11-29T10:00:00.001Z'), [s], state, new Date(), plan);
    expect(plan.alerts).toBe(1);
  });

  it('measures the matching rate on the corpus with divergence, deadline and event subscriptions', () => {
    const corpus = loadCorpus(DEFAULT_CORPUS_DIR);
    const m = new Matcher(repo, () => 8);
    const state = new KeptState();
    const subs = [
      sub('pair', { kind: 'divergence', scope: 'pair', a: 'EU', b: 'US', movesBy: 0.01 }),
      sub('global', { kind: 'divergence', scope: 'global', movesBy: 0.001 }),
      sub('dim', { kind: 'divergence', scope: 'dimension', dimension: 'legal_bindingness', crosses: 0.3 }),
      sub('deadlines', { kind: 'deadline', daysBefore: 30 }),
      ...Array.from({ length: 50 }, (_, i) => sub(`event-${i}`, { kind: 'event' }, { jurisdictions: [['EU', 'US', 'CN', 'GB', 'JP'][i % 5] as string] })),
    ];
    const events = corpus.events.map((e, i) => ({ ...e, recordedtime: '2026-11-29T12:00:00.000Z', streamversion: 1, position: String(i + 1) }));
    const plan = new Plan();
    const started = performance.now();
    const now = new Date('2026-11-29T12:00:00.000Z');
    for (const e of events) m.process(e, subs, state, now, plan);
    const ms = performance.now() - started;
    const stances = events.filter((e) => e.type === 'StanceCoded').length;
    console.log(
      `[bench] corpus replay through the matcher: ${events.length} events (${stances} stance codings, index before/after each) against ${subs.length} subscriptions in ${ms.toFixed(0)} ms: ${(events.length / (ms / 1000)).toFixed(0)} events/s, ${plan.alerts} alerts`,
    );
    expect(plan.alerts).toBeGreaterThan(0);
    expect(state.stanceLog.length).toBe(stances);
  });
});
