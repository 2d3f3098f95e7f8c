import fc from 'fast-check';
import { type Coding, diffRange, type Timeline, winnerAt } from './ledger';

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
