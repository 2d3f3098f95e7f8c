import { readFileSync } from 'node:fs';

/**
 * Top frames of a V8 .cpuprofile (what `node --cpu-prof` writes): self time and inclusive time per
 * function, so a profile can be read without a browser.
 * `node bench/dist/profile-summary.js bench/profiles/<file>.cpuprofile [top]`
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface Frame {
  readonly name: string;
  readonly selfMs: number;
  readonly totalMs: number;
  readonly selfPct: number;
  readonly totalPct: number;
}

export function summarise(profile: Profile, top = 25): { totalMs: number; bySelf: Frame[]; byTotal: Frame[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time per sample from the deltas; fall back to hit counts.
  const selfUs = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    for (let i = 0; i < profile.samples.length; i++) {
      const id = profile.samples[i] as number;
      selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
    }
  } else {
    const per = (profile.endTime - profile.startTime) / Math.max(1, profile.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0));
    for (const n of profile.nodes) selfUs.set(n.id, (n.hitCount ?? 0) * per);
  }
  const key = (n: Node) => {
    const file = n.callFrame.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules\/|packages\/|apps\/|bench\/)/, '$1');
    return `${n.callFrame.functionName || '(anonymous)'} ${file ? `${file}:${n.callFrame.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let all = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    // Idle time is not CPU: percentages are of the time the process was busy.
    if (!n || us === 0 || n.callFrame.functionName === '(idle)') continue;
    all += us;
    self.set(key(n), (self.get(key(n)) ?? 0) + us);
    // Inclusive: once per distinct function on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = key(byId.get(cur) as Node);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us);
    }
  }
  const frames = (m: Map<string, number>, other: Map<string, number>, selfFirst: boolean): Frame[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .filter(([k]) => !['(root)', '(program)', '(idle)'].includes(k))
      .slice(0, top)
      .map(([name, us]) => {
        const s = selfFirst ? us : (other.get(name) ?? 0);
        const t = selfFirst ? (other.get(name) ?? 0) : us;
        return { name, selfMs: s / 1000, totalMs: t / 1000, selfPct: (100 * s) / all, totalPct: (100 * t) / all };
      });
  return { totalMs: all / 1000, bySelf: frames(self, total, true), byTotal: frames(total, self, false) };
}

export function formatFrames(frames: readonly Frame[]): string {
  return frames.map((f) => `${f.selfPct.toFixed(1).padStart(5)}% self ${f.totalPct.toFixed(1).padStart(5)}% total  ${f.name}`).join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node bench/dist/profile-summary.js <file.cpuprofile> [top]');
    process.exit(2);
  }
  const s = summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(process.argv[3] ?? 25));
  console.log(`busy ${(s.totalMs / 1000).toFixed(1)} s (percentages are of busy time)\n\nby self time:\n${formatFrames(s.bySelf)}\n\nby inclusive time:\n${formatFrames(s.byTotal)}`);
}
