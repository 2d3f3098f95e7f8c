import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CORPUS_DIR } from '@regstream/corpus';
import { COMMANDS, run } from './cli';
import type { Io } from './io';

interface Captured extends Io {
  out(): string;
  err(): string;
}

function io(dataDir: string, cwd = dataDir, opts: { tty?: boolean; ci?: boolean } = {}): Captured {
  let out = '';
  let err = '';
  return {
    stdout: { write: (s: string) => (out += s), isTTY: false },
    stderr: { write: (s: string) => (err += s), isTTY: opts.tty ?? false, columns: 100 },
    env: { REGSTREAM_DATA_DIR: dataDir, ...(opts.ci ? { CI: 'true' } : {}) },
    cwd,
    out: () => out,
    err: () => err,
  };
}

const tmp = (): string => mkdtempSync(join(tmpdir(), 'regstream-cli-'));

describe('regstream CLI', () => {
  const dirs: string[] = [];
  let shared: string;

  beforeAll(async () => {
    shared = tmp();
    dirs.push(shared);
    expect(await run(['import', DEFAULT_CORPUS_DIR], io(shared))).toBe(0);
  });

  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('imports the corpus once; a second import writes nothing and says so', async () => {
    const dir = tmp();
    dirs.push(dir);
    const first = io(dir);
    expect(await run(['import', DEFAULT_CORPUS_DIR], first)).toBe(0);
    const m = /imported (\d+) new events from (\d+) file\(s\)/.exec(first.out());
    expect(m).not.toBeNull();
    const written = Number(m?.[1]);
    expect(written).toBeGreaterThan(100);

    const second = io(dir);
    expect(await run(['import', DEFAULT_CORPUS_DIR], second)).toBe(0);
    expect(second.out()).toMatch(new RegExp(`nothing to import: all ${written} events from \\d+ file\\(s\\) are already in the store`));

    const sum = io(dir);
    expect(await run(['checksum', '--json'], sum)).toBe(0);
    expect((JSON.parse(sum.out()) as { events: number }).events).toBe(written);
  });

  it('stops on a malformed corpus file, naming file and line, and writes nothing', async () => {
    const dir = tmp();
    dirs.push(dir);
    writeFileSync(
      join(dir, 'bad.yaml'),
      ['instruments:', '- id: eu-test-act', '  jurisdiction: EU', '  kind: not-a-kind', '  legalForce: binding', ''].join('\n'),
    );
    const c = io(dir);
    const code = await run(['import', 'bad.yaml'], c);
    expect(code).toBe(1);
    expect(c.err()).toMatch(/bad\.yaml:4: instruments\[0\]\.kind: /);
    expect(c.err()).toContain('nothing was written');
    const sum = io(dir);
    await run(['checksum', '--json'], sum);
    expect((JSON.parse(sum.out()) as { events: number }).events).toBe(0);
  });

  it('names file and line of a YAML syntax error and of invalid NDJSON', async () => {
    const dir = tmp();
    dirs.push(dir);
    writeFileSync(join(dir, 'broken.yaml'), 'instruments:\n  - id: [unclosed\n');
    const y = io(dir);
    expect(await run(['import', join(dir, 'broken.yaml')], y)).toBe(1);
    expect(y.err()).toMatch(/broken\.yaml:\d+: /);

    writeFileSync(join(dir, 'events.ndjson'), '{"type":"InstrumentProposed"}\n{not json\n');
    const n = io(dir);
    expect(await run(['import', 'events.ndjson'], n)).toBe(1);
    expect(n.err()).toMatch(/events\.ndjson:2: not valid JSON/);

    writeFileSync(join(dir, 'invalid.ndjson'), '\n{"type":"InstrumentProposed","subject":"instrument-x","validtime":"2024-13-01","data":{"instrumentId":"x"}}\n');
    const v = io(dir);
    expect(await run(['import', 'invalid.ndjson'], v)).toBe(1);
    expect(v.err()).toMatch(/invalid\.ndjson:2: validtime: /);
  });

  it('exports events as NDJSON that re-imports into an identical log', async () => {
    const c = io(shared);
    expect(await run(['export', 'events'], c)).toBe(0);
    const lines = c.out().trim().split('\n');
    const events = lines.map((l) => JSON.parse(l) as { id: string; type: string; position: string });
    expect(events.length).toBeGreaterThan(100);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect(events.map((e) => Number(e.position))).toEqual([...events.map((e) => Number(e.position))].sort((a, b) => a - b));

    const copy = tmp();
    dirs.push(copy);
    const file = join(copy, 'log.ndjson');
    writeFileSync(file, c.out());
    const imp = io(copy);
    expect(await run(['import', file], imp)).toBe(0);
    expect(imp.out()).toContain(`imported ${events.length} new events`);
    const again = io(copy);
    await run(['import', file], again);
    expect(again.out()).toContain('nothing to import');

    const a = io(shared);
    const b = io(copy);
    await run(['checksum', '--json'], a);
    await run(['checksum', '--json'], b);
    const ca = JSON.parse(a.out()) as { log: string; views: string };
    const cb = JSON.parse(b.out()) as { log: string; views: string };
    expect(cb.log).toBe(ca.log);
    expect(cb.views).toBe(ca.views);
  });

  it('exports events and projections as CSV, as of a date', async () => {
    const ev = io(shared);
    expect(await run(['export', 'events', '--format', 'csv', '--as-of', '2020-01-01'], ev)).toBe(0);
    const rows = ev.out().trim().split('\r\n');
    expect(rows[0]).toBe('position,id,type,subject,validtime,knowntime,recordedtime,streamversion,source,idempotencykey,citation_url,data');
    const validtimes = rows.slice(1).map((r) => /^\d+,[^,]+,[A-Za-z]+,[^,]+,([^,]+),/.exec(r)?.[1]);
    expect(validtimes.length).toBeGreaterThan(10);
    for (const v of validtimes) expect(v && v.slice(0, 10) <= '2020-01-01').toBe(true);

    const div = io(shared);
    const out = join(shared, 'div.csv');
    expect(await run(['export', 'divergence', '--as-of', '2024-08-01', '-f', 'csv', '-o', out], div)).toBe(0);
    const csvText = readFileSync(out, 'utf8');
    expect(csvText.split('\r\n')[0]).toBe('a,b,value,band_low,band_high,coverage,missing');
    expect(csvText).toMatch(/\r\nEU,US,0\.\d+,/);

    const st = io(shared);
    expect(await run(['export', 'stances', '--as-of', '2024-08-01', '--jurisdictions', 'EU'], st)).toBe(0);
    const stances = st.out().trim().split('\n').map((l) => JSON.parse(l) as { jurisdiction: string; validFrom: string });
    expect(stances.length).toBeGreaterThan(3);
    expect(stances.every((s) => s.jurisdiction === 'EU' && s.validFrom.slice(0, 10) <= '2024-08-01')).toBe(true);
  });

  it('queries divergence as of and known at a date, in JSON and as a table', async () => {
    const j = io(shared);
    expect(await run(['query', 'divergence', '--as-of', '2024-08-01', '--json'], j)).toBe(0);
    const r = JSON.parse(j.out()) as { asOf: string; jurisdictions: string[]; pairs: { a: string; b: string; value: number | null }[]; global: { value: number } };
    expect(r.asOf).toBe('2024-08-01');
    expect(r.jurisdictions).toEqual(expect.arrayContaining(['CN', 'EU', 'US']));
    const n = r.jurisdictions.length;
    expect(r.pairs).toHaveLength((n * (n - 1)) / 2);
    const values = r.pairs.map((p) => p.value).filter((v): v is number => v !== null);
    expect(r.global.value).toBeCloseTo(values.reduce((s, v) => s + v, 0) / values.length, 10);
    const euUs = r.pairs.find((p) => p.a === 'EU' && p.b === 'US');
    expect(euUs?.value).toEqual(expect.any(Number));

    const t = io(shared);
    expect(await run(['query', 'divergence', '--as-of', '2024-08-01'], t)).toBe(0);
    expect(t.out()).toContain('Divergence on all dimensions as of 2024-08-01');
    expect(t.out()).toContain(`global index ${r.global.value.toFixed(3)}`);
    expect(t.out()).toContain((euUs?.value as number).toFixed(3));

    // Known time: before any stance was known there is nothing to compare.
    const early = io(shared);
    expect(await run(['query', 'divergence', '--as-of', '2024-08-01', '--known-at', '2000-01-01', '--json'], early)).toBe(0);
    const none = JSON.parse(early.out()) as { pairs: { value: number | null }[]; global: { value: number | null } };
    expect(none.pairs.length).toBeGreaterThan(0);
    expect(none.pairs.every((p) => p.value === null)).toBe(true);
    expect(none.global.value).toBeNull();

    // An earlier as-of gives other numbers.
    const before = io(shared);
    await run(['query', 'divergence', '--as-of', '2019-01-01', '--json'], before);
    expect((JSON.parse(before.out()) as { global: { value: number | null } }).global.value).not.toBe(r.global.value);
  });

  it('answers the other queries', async () => {
    const gap = io(shared);
    expect(await run(['query', 'gap', '--from', 'US', '--to', 'EU', '--json'], gap)).toBe(0);
    const g = JSON.parse(gap.out()) as { from: string; to: string; score: number; items: { owed: number }[] };
    expect([g.from, g.to]).toEqual(['US', 'EU']);
    expect(g.score).toBeGreaterThan(0);
    expect(g.items.every((i) => i.owed > 0 && i.owed <= 1)).toBe(true);

    const tl = io(shared);
    expect(await run(['query', 'timeline', '-j', 'EU', '--as-of', '2024-01-01'], tl)).toBe(0);
    expect(tl.out()).toMatch(/eu-ai-act/);
    expect(tl.out()).toMatch(/future/);

    const st = io(shared);
    expect(await run(['query', 'stances', '-j', 'CN'], st)).toBe(0);
    expect(st.out()).toContain('legal_bindingness');

    const bad = io(shared);
    expect(await run(['query', 'divergence', '--as-of', '2024-02-30'], bad)).toBe(2);
    expect(bad.err()).toContain('--as-of expects a date');
  });

  it('writes a self-contained HTML report and an SVG report', async () => {
    const c = io(shared);
    expect(await run(['report', '--as-of', '2024-08-01', '--out', 'report.html'], c)).toBe(0);
    const file = join(shared, 'report.html');
    expect(existsSync(file)).toBe(true);
    const html = readFileSync(file, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('Divergence in AI regulation as of 2024-08-01');
    expect(html.match(/<svg /g)?.length).toBe(2);
    // Self-contained: no script, no stylesheet or image fetched from anywhere.
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(/i);
    expect(html).not.toMatch(/\s(src|href)=/i);
    const q = io(shared);
    await run(['query', 'divergence', '--as-of', '2024-08-01', '--json'], q);
    const div = JSON.parse(q.out()) as { global: { value: number } };
    expect(html).toContain(div.global.value.toFixed(3));

    const s = io(shared);
    expect(await run(['report', '--as-of', '2024-08-01', '--format', 'svg', '-o', 'report.svg'], s)).toBe(0);
    const svg = readFileSync(join(shared, 'report.svg'), 'utf8');
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).not.toMatch(/<script|href=/i);
  });

  it('replays the log, rebuilding the read models when the store has them, and finds it consistent', async () => {
    const c = io(shared);
    expect(await run(['replay', '--json'], c)).toBe(0);
    const r = JSON.parse(c.out()) as { events: number; problems: string[]; instruments: number; readModels: { events: number; switched: boolean; deadLettered: number } | null };
    expect(r.events).toBeGreaterThan(100);
    expect(r.instruments).toBeGreaterThan(10);
    expect(r.problems).toEqual([]);
    if (r.readModels) {
      expect(r.readModels).toMatchObject({ events: r.events, switched: true, deadLettered: 0 });
      // Rebuilding again from the same log gives the same models.
      const a = io(shared);
      await run(['checksum', '--json'], a);
      await run(['replay', '--json'], io(shared));
      const b = io(shared);
      await run(['checksum', '--json'], b);
      const ma = (JSON.parse(a.out()) as { models: { digest: string } }).models;
      const mb = (JSON.parse(b.out()) as { models: { digest: string } }).models;
      expect(mb.digest).toBe(ma.digest);

      // The read models answer as the log does.
      for (const asOf of ['2019-06-01', '2024-08-01']) {
        const fromLog = io(shared);
        const fromModels = io(shared);
        expect(await run(['query', 'divergence', '--as-of', asOf, '--json'], fromLog)).toBe(0);
        expect(await run(['query', 'divergence', '--as-of', asOf, '--json', '--source', 'models'], fromModels)).toBe(0);
        const l = JSON.parse(fromLog.out()) as { pairs: { a: string; b: string; value: number | null }[]; global: { value: number | null } };
        const m = JSON.parse(fromModels.out()) as typeof l;
        expect(m.pairs.map((x) => [x.a, x.b])).toEqual(l.pairs.map((x) => [x.a, x.b]));
        m.pairs.forEach((x, i) => (x.value === null ? expect(l.pairs[i]?.value).toBeNull() : expect(x.value).toBeCloseTo(l.pairs[i]?.value as number, 9)));
        expect(m.global.value).toBeCloseTo(l.global.value as number, 9);
      }
    } else {
      const m = io(shared);
      expect(await run(['query', 'divergence', '--source', 'models'], m)).toBe(1);
      expect(m.err()).toContain('no read models');
    }
  });

  it('has --help on every command, and usage errors exit 2', async () => {
    for (const { spec } of COMMANDS) {
      const c = io(shared);
      expect(await run([spec.name, '--help'], c)).toBe(0);
      expect(c.out()).toContain(`usage: regstream ${spec.name}`);
      expect(c.out()).toContain('--help');
    }
    const top = io(shared);
    expect(await run(['--help'], top)).toBe(0);
    for (const { spec } of COMMANDS) expect(top.out()).toContain(spec.name);
    const unknown = io(shared);
    expect(await run(['frobnicate'], unknown)).toBe(2);
    const badFlag = io(shared);
    expect(await run(['export', '--nope'], badFlag)).toBe(2);
    expect(badFlag.err()).toContain("run 'regstream export --help'");
  });

  it('draws a progress bar on a terminal, and stays quiet in CI or a pipe', async () => {
    const dir = tmp();
    dirs.push(dir);
    const tty = io(dir, dir, { tty: true });
    await run(['import', DEFAULT_CORPUS_DIR], tty);
    expect(tty.err()).toContain('importing [');
    expect(tty.err()).toContain('█');
    const ci = io(dir, dir, { tty: true, ci: true });
    await run(['import', DEFAULT_CORPUS_DIR], ci);
    expect(ci.err()).toBe('');
    const pipe = io(dir);
    await run(['replay'], pipe);
    expect(pipe.err()).not.toMatch(/[\r█]/);
  });
});
