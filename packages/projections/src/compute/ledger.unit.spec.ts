import fc from 'fast-check';
import { prepareFact } from '../facts';
import { generateHistory, toStored } from '../testing';
import { type Coding, diffRange, StanceLedger, type Timeline, winnerAt } from './ledger';

/** The definition diffRange implements, by brute force over every breakpoint of both timelines. */
function naiveDiffRange(a: Timeline, b: Timeline): { lo: string; hi: string | null } | null {
  const points = [...new Set([...a.vts, ...b.vts])].sort();
  let lo: string | null = null;
  let lastIdx = -1;
  points.forEach((p, i) => {
    if ((winnerAt(a, p)?.sig ?? '') !== (winnerAt(b, p)?.sig ?? '')) {
      if (lo === null) lo = p;
      lastIdx = i;
    }
  });
  return lo === null ? null : { lo, hi: points[lastIdx + 1] ?? null };
}

const coding = (vf: string, sig: string): Coding => ({ id: sig, jurisdiction: 'EU', dimension: 'd', vf, kt: vf, pos: 0n, sig, seq: 0 }) as unknown as Coding;

/** A timeline and an edited copy that shares the untouched Coding objects, as the ledger produces. */
const pair = fc
  .uniqueArray(fc.integer({ min: 1, max: 60 }), { maxLength: 25 })
  .chain((days) => {
    const base = [...days].sort((x, y) => x - y).map((d) => coding(`2020-01-${String(d).padStart(2, '0')}`, `c${d}`));
    return fc.tuple(
      fc.constant(base),
      fc.array(fc.tuple(fc.constantFrom('insert', 'remove', 'replace'), fc.integer({ min: 1, max: 60 }), fc.nat(3)), { maxLength: 4 }),
    );
  })
  .map(([base, edits]) => {
    const after = [...base];
    for (const [op, day, v] of edits) {
      const vf = `2020-01-${String(day).padStart(2, '0')}`;
      const at = after.findIndex((c) => c.vf >= vf);
      const i = at < 0 ? after.length : at;
      const same = after[i]?.vf === vf;
      if (op === 'insert' && !same) after.splice(i, 0, coding(vf, `n${day}.${v}`));
      if (op === 'remove' && same) after.splice(i, 1);
      if (op === 'replace' && same) after[i] = coding(vf, v === 0 ? `c${day}` : `r${day}.${v}`);
    }
    const tl = (cs: Coding[]): Timeline => ({ vts: cs.map((c) => c.vf), winners: cs });
    return [tl(base), tl(after)] as const;
  });

describe('diffRange', () => {
  it('equals the brute-force definition, both ways, on timelines sharing unchanged codings', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        expect(diffRange(a, b)).toEqual(naiveDiffRange(a, b));
        expect(diffRange(b, a)).toEqual(naiveDiffRange(b, a));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('StanceLedger', () => {
  it('timelines kept up epoch by epoch equal those built at once from what was known then', () => {
    // Mostly codings, with corrections (some moving valid time) and retractions: dozens per component,
    // so most epochs patch a timeline rather than rebuild it.
    const facts = toStored(generateHistory({ seed: 9, events: 2500, stanceShare: 0.9, correctionShare: 0.05, retractionShare: 0.02 })).map((e) => prepareFact(e));
    const epochs = StanceLedger.epochs(facts);
    const live = new StanceLedger();
    let checked = 0;
    epochs.forEach(({ epoch, facts: fs }, i) => {
      live.apply(epoch, fs);
      if (i % 40 !== 0 && i !== epochs.length - 1) return;
      const fresh = new StanceLedger();
      fresh.apply(epoch, facts.filter((f) => f.kt <= epoch));
      const keys = new Set([...live.timelines.keys(), ...fresh.timelines.keys()]);
      for (const k of keys) {
        const a = live.timeline(k);
        const b = fresh.timeline(k);
        expect(a.vts).toEqual(b.vts);
        expect(a.winners.map((w) => w.sig)).toEqual(b.winners.map((w) => w.sig));
      }
      checked += keys.size;
    });
    expect(Math.max(...[...live.timelines.values()].map((t) => t.vts.length))).toBeGreaterThan(20);
    expect(checked).toBeGreaterThan(1000);
  });
});
