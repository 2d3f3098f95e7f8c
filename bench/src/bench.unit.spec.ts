import { instrumentDecider, type InstrumentState, parseNewEvent } from '@regstream/domain';
import { FIXED_NOW, generateHistory, takeHistory, toEnvelope, validateHistory } from './generator';
import { Rng } from './rng';
import { histogram, median, percentile, Recorder } from './stats';

describe('generator', () => {
  const history = takeHistory({ seed: 42, events: 10_000 });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(takeHistory({ seed: 42, events: 10_000 })).toEqual(history);
    const other = takeHistory({ seed: 43, events: 200 });
    expect(other.map((e) => e.id)).not.toEqual(history.slice(0, 200).map((e) => e.id));
  });

  it('yields exactly the requested number of events, lazily', () => {
    expect(history).toHaveLength(10_000);
    const it = generateHistory({ seed: 1, events: 1_000_000 });
    const first = it.next();
    expect(first.done).toBe(false);
  });

  it('produces envelopes every schema accepts, with unique UUIDs', () => {
    for (const e of history) {
      const r = parseNewEvent(e, { now: FIXED_NOW, newId: () => 'unused', defaultSource: '/bench' });
      if (!r.ok) throw new Error(`${e.type}: ${JSON.stringify(r.issues)}`);
    }
    expect(new Set(history.map((e) => e.id)).size).toBe(history.length);
    expect(toEnvelope(history[0]!).id).toBe(history[0]!.id);
  });

  it('keeps the decider rules: registration first, once; postponements start from the current date; corrections target their own stream', () => {
    expect(validateHistory(history)).toEqual([]);
    const states = new Map<string, InstrumentState>();
    const current = new Map<string, string>();
    for (const e of history.map((x) => toEnvelope(x))) {
      if (!e.subject.startsWith('instrument-')) continue;
      const st = states.get(e.subject) ?? instrumentDecider.initialState();
      if (st.status === 'unregistered') expect(e.type).toBe('InstrumentRegistered');
      else expect(e.type).not.toBe('InstrumentRegistered');
      if (e.type === 'ProvisionBecameApplicable') current.set(`${e.subject}/${e.data.provision}`, e.validtime.slice(0, 10));
      if (e.type === 'ApplicationPostponed' || e.type === 'ApplicationBroughtForward') {
        const key = `${e.subject}/${e.data.provision}`;
        expect(e.data.previousDate).toBe(current.get(key));
        if (e.type === 'ApplicationPostponed') expect(e.data.newDate > e.data.previousDate).toBe(true);
        else expect(e.data.newDate < e.data.previousDate).toBe(true);
        current.set(key, e.data.newDate);
      }
      states.set(e.subject, instrumentDecider.evolve(st, e));
    }
  });

  it('looks like a real history: many jurisdictions, lifecycles, stance changes and corrections', () => {
    const types = new Map<string, number>();
    for (const e of history) types.set(e.type, (types.get(e.type) ?? 0) + 1);
    const jurisdictions = new Set(history.filter((e) => e.type === 'InstrumentRegistered').map((e) => e.data['jurisdiction']));
    expect(jurisdictions.size).toBeGreaterThan(50);
    for (const t of ['InstrumentRegistered', 'InstrumentAdopted', 'InstrumentEnteredIntoForce', 'ProvisionBecameApplicable', 'ApplicationPostponed', 'StanceCoded', 'RecordCorrected', 'RecordRetracted', 'InstrumentLapsed']) {
      expect(types.get(t) ?? 0).toBeGreaterThan(0);
    }
    const share = (t: string) => (types.get(t) ?? 0) / history.length;
    expect(share('StanceCoded')).toBeGreaterThan(0.15);
    expect(share('RecordCorrected') + share('RecordRetracted')).toBeGreaterThan(0.01);
    // Stances change: some jurisdiction has one dimension coded with more than one value.
    const seen = new Map<string, Set<string>>();
    for (const e of history.filter((x) => x.type === 'StanceCoded')) {
      const k = `${String(e.data['jurisdiction'])}/${String(e.data['dimension'])}`;
      seen.set(k, (seen.get(k) ?? new Set()).add(JSON.stringify(e.data['value'])));
    }
    expect([...seen.values()].some((v) => v.size > 1)).toBe(true);
  });

  it('namespaces instrument ids so histories can share a database', () => {
    const a = takeHistory({ seed: 7, events: 300, namespace: 'w1' });
    expect(a.filter((e) => e.subject.startsWith('instrument-')).every((e) => e.subject.startsWith('instrument-w1-'))).toBe(true);
    expect(validateHistory(a)).toEqual([]);
  });
});

describe('rng', () => {
  it('repeats for a seed and stays in range', () => {
    const a = new Rng(5);
    const b = new Rng(5);
    for (let i = 0; i < 1000; i++) {
      const x = a.next();
      expect(x).toBe(b.next());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(new Rng(9).uuid()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('statistics', () => {
  it('uses nearest-rank percentiles', () => {
    const s = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(s, 50)).toBe(50);
    expect(percentile(s, 99)).toBe(99);
    expect(percentile(s, 100)).toBe(100);
    expect(percentile(s, 0)).toBe(1);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([1, 2, 3, 4], 75)).toBe(3);
    expect(percentile([1, 2, 3, 4], 76)).toBe(4);
  });

  it('summarises recorded samples whatever their order, and grows past its initial buffer', () => {
    const r = new Recorder();
    for (let i = 5000; i >= 1; i--) r.record(i / 10);
    const s = r.summary();
    expect(s.count).toBe(5000);
    expect(s.min).toBe(0.1);
    expect(s.max).toBe(500);
    expect(s.p50).toBe(250);
    expect(s.p99).toBe(495);
    expect(s.mean).toBeCloseTo(250.05, 5);
    const other = new Recorder();
    other.record(1000);
    r.merge(other);
    expect(r.summary().max).toBe(1000);
  });

  it('gives a median and log buckets', () => {
    expect(median([3, 1, 2])).toBe(2);
    const h = histogram([1, 1, 10, 100]);
    expect(h.reduce((a, b) => a + b.count, 0)).toBe(4);
    expect(h[0]!.le).toBe(1);
  });
});
