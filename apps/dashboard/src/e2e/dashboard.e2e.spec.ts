/// <reference lib="dom" />
// Callbacks passed to page.evaluate run in the browser.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type RegstreamConfig, loadConfig } from '@regstream/config';
import type { Page } from 'playwright-core';
import { type Browser, launch, screenshot } from './browser';

/**
 * The dashboard in real headless Chromium over the all-in-one server (embedded mode, temp data dir,
 * random port): the page loads, the heatmap shows the API's numbers, the as-of slider changes them,
 * a subscription can be created from the page, and live events arrive over SSE. Screenshots go to
 * artifacts/screenshots. REGSTREAM_E2E_URL (+ REGSTREAM_E2E_DEMO_KEY, REGSTREAM_E2E_ADMIN_KEY) runs the
 * same checks against a server that is already running instead.
 */

interface Started {
  readonly app: { close(): Promise<void> };
  readonly infra: { close(): Promise<void> };
  readonly url: string;
  readonly adminKeyFile: string;
  readonly demoKey: string;
}
type StartServer = (config: RegstreamConfig, opts?: { port?: number }) => Promise<Started>;

// apps/server composes this package, so this package cannot depend on it; the test loads it at run
// time (Jest maps @regstream/server to its sources).
const SERVER_PACKAGE = '@regstream/server';

interface Pair {
  a: string;
  b: string;
  value: number | null;
  coverage: { weightShare: number };
}
interface Divergence {
  asOf: string;
  jurisdictions: string[];
  pairs: Pair[];
  global: { value: number | null };
}

jest.setTimeout(180_000);

describe('dashboard in headless Chromium', () => {
  let dataDir: string;
  let server: Started;
  let browser: Browser;
  let page: Page;
  let adminKey: string;

  const api = async <T>(path: string, key = server.demoKey, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${server.url}${path}`, { ...init, headers: { Authorization: `Bearer ${key}`, Accept: 'application/json', 'Content-Type': 'application/json', ...(init.headers as Record<string, string> | undefined) } });
    if (!res.ok) throw new Error(`${init.method ?? 'GET'} ${path} → ${res.status}: ${await res.text()}`);
    return (res.status === 204 ? undefined : await res.json()) as T;
  };

  /** What the page shows in the heatmap table: pair → [data-value, displayed text]. */
  const heatmapCells = (): Promise<{ a: string; b: string; value: string; text: string }[]> =>
    page.$$eval('#divergence-matrix td.cell', (tds) =>
      tds.map((td) => ({ a: td.getAttribute('data-a') ?? '', b: td.getAttribute('data-b') ?? '', value: td.getAttribute('data-value') ?? '', text: td.querySelector('.v')?.textContent ?? '' })),
    );

  /** What ECharts draws: [x, y, value] per cell. */
  const chartCells = (): Promise<[number, number, number | string][]> =>
    page.evaluate(() => {
      const w = window as unknown as { echarts: { getInstanceByDom(el: Element): { getOption(): { series: { data: { value: [number, number, number | string] }[] }[] } } } };
      const el = document.getElementById('heatmap');
      if (!el) return [];
      return w.echarts.getInstanceByDom(el).getOption().series[0]?.data.map((d) => d.value) ?? [];
    });

  const expectHeatmapEqualsApi = async (asOf: string, knownAt?: string): Promise<Divergence> => {
    const fromApi = await api<Divergence>(`/v1/divergence?asOf=${asOf}${knownAt ? `&knownAt=${knownAt}` : ''}`);
    const cells = await heatmapCells();
    // Both triangles of the matrix.
    expect(cells).toHaveLength(fromApi.pairs.length * 2);
    for (const p of fromApi.pairs) {
      for (const [a, b] of [
        [p.a, p.b],
        [p.b, p.a],
      ] as const) {
        const cell = cells.find((c) => c.a === a && c.b === b);
        expect(cell).toBeDefined();
        expect(cell?.value).toBe(p.value === null ? '' : String(p.value));
        expect(cell?.text).toBe(p.value === null ? '—' : p.value.toFixed(3));
      }
    }
    const js = [...fromApi.jurisdictions].sort((x, y) => (x.startsWith('INTL-') ? 1 : 0) - (y.startsWith('INTL-') ? 1 : 0) || x.localeCompare(y));
    const drawn = await chartCells();
    for (const [x, y, v] of drawn) {
      const p = fromApi.pairs.find((q) => (q.a === js[x] && q.b === js[y]) || (q.a === js[y] && q.b === js[x]));
      expect(v).toBe(p?.value ?? '-');
    }
    expect(drawn).toHaveLength(fromApi.pairs.length * 2);
    expect(await page.textContent('#global-value .stat-value')).toBe(fromApi.global.value === null ? '—' : fromApi.global.value.toFixed(3));
    return fromApi;
  };

  beforeAll(async () => {
    const built = resolve(__dirname, '..', '..', 'dist', 'public', 'main.js');
    if (!existsSync(built)) throw new Error(`the browser modules are not built (${built}): npm run build:web -w @regstream/dashboard`);
    const external = process.env['REGSTREAM_E2E_URL'];
    if (external) {
      // Against a server that is already running (for example in distributed mode).
      const noop = { close: () => Promise.resolve() };
      server = { app: noop, infra: noop, url: external.replace(/\/$/, ''), adminKeyFile: '', demoKey: process.env['REGSTREAM_E2E_DEMO_KEY'] ?? '' };
      adminKey = process.env['REGSTREAM_E2E_ADMIN_KEY'] ?? '';
    } else {
      dataDir = mkdtempSync(join(tmpdir(), 'regstream-e2e-'));
      const { startServer } = (await import(SERVER_PACKAGE)) as { startServer: StartServer };
      server = await startServer(loadConfig({ REGSTREAM_DATA_DIR: dataDir, HOST: '127.0.0.1', PORT: '0', NODE_ENV: 'test' }), { port: 0 });
      adminKey = readFileSync(server.adminKeyFile, 'utf8').trim();
    }
    // The projector catches up with the corpus in the background.
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        const d = await api<Divergence>('/v1/divergence?asOf=2024-08-01');
        if (d.pairs.some((p) => p.value !== null)) break;
      } catch (e) {
        // A missing endpoint will not appear by waiting.
        if (Date.now() > deadline || (e instanceof Error && e.message.includes('→ 404'))) throw e;
      }
      if (Date.now() > deadline) throw new Error('the read models did not catch up with the corpus in 90 s');
      await new Promise((r) => setTimeout(r, 250));
    }
    browser = await launch();
    page = browser.page;
  });

  afterAll(async () => {
    await browser?.context.close();
    await server?.app.close();
    await server?.infra.close();
    if (browser) rmSync(browser.profile, { recursive: true, force: true });
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('loads: timeline swimlanes, the controls, no script error or CSP violation', async () => {
    const res = await page.goto(`${server.url}/#key=${encodeURIComponent(server.demoKey)}`);
    expect(res?.status()).toBe(200);
    expect(res?.headers()['content-security-policy']).toContain("script-src 'self'");
    await page.waitForSelector('body[data-ready="true"]');
    await expect(page.title()).resolves.toContain('regstream');
    // The key left the address bar and lives in this tab's session storage only.
    expect(page.url()).not.toContain('key=');
    await page.waitForSelector('#timeline-list details');
    const lanes = await page.$$eval('#timeline-list details summary strong', (els) => els.map((e) => e.textContent));
    expect(lanes).toEqual(expect.arrayContaining(['EU', 'US', 'CN']));
    expect(await page.$$eval('#timeline-chart svg', (s) => s.length)).toBe(1);
    expect(await page.getAttribute('#asof-slider', 'aria-valuetext')).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(await page.isVisible('#need-key')).toBe(false);
    await page.waitForSelector('#feed-state.live-live', { timeout: 15_000 });
    await screenshot(page, 'dashboard-timeline');
    expect(browser.problems).toEqual([]);
  });

  it('opens an instrument with its citations from the timeline, by keyboard', async () => {
    const button = page.locator('#timeline-list details[open] button.linklike').first();
    await button.focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('#instrument-dialog[open] dl.facts');
    expect(await page.locator('#instrument-dialog a[href^="http"]').count()).toBeGreaterThan(0);
    await screenshot(page, 'dashboard-instrument');
    await page.keyboard.press('Escape');
    await page.waitForSelector('#instrument-dialog:not([open])', { state: 'attached' });
    // The views are tabs: arrow keys move between them.
    await page.focus('#tab-timeline');
    await page.keyboard.press('ArrowRight');
    expect(await page.getAttribute('#tab-divergence', 'aria-selected')).toBe('true');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tab-divergence');
    await page.keyboard.press('ArrowLeft');
    expect(await page.getAttribute('#tab-timeline', 'aria-selected')).toBe('true');
  });

  it("shows the API's numbers in the heatmap for the same as-of date", async () => {
    await page.goto(`${server.url}/?asOf=2024-08-01&tab=divergence`);
    await page.waitForSelector('#divergence-matrix td.cell');
    expect(await page.inputValue('#asof-date')).toBe('2024-08-01');
    const d = await expectHeatmapEqualsApi('2024-08-01');
    expect(d.pairs.filter((p) => p.value !== null).length).toBeGreaterThan(3);
    await screenshot(page, 'dashboard-divergence-2024-08-01');
  });

  it('changes the numbers when the slider moves (and follows the keyboard)', async () => {
    const before = await heatmapCells();
    // Keyboard: each arrow press moves one day.
    await page.focus('#asof-slider');
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('ArrowLeft');
    expect(await page.textContent('#asof-label')).toBe('2024-07-30');
    // Drag to 2019-06-01, as a pointer would: input events while moving, change on release.
    const target = Math.floor(Date.parse('2019-06-01T00:00:00Z') / 86_400_000);
    const response = page.waitForResponse((r) => r.url().includes('/v1/divergence?') && r.url().includes('asOf=2019-06-01'));
    await page.$eval(
      '#asof-slider',
      (el, v) => {
        const input = el as HTMLInputElement;
        input.value = String(v);
        input.dispatchEvent(new Event('input', { bubbles: true }));
        input.dispatchEvent(new Event('change', { bubbles: true }));
      },
      target,
    );
    await response;
    await page.waitForFunction(() => document.getElementById('divergence-status')?.getAttribute('role') === 'status' && !document.getElementById('divergence-status')?.classList.contains('status-loading'));
    expect(await page.inputValue('#asof-date')).toBe('2019-06-01');
    expect(page.url()).toContain('asOf=2019-06-01');
    await expectHeatmapEqualsApi('2019-06-01');
    const after = await heatmapCells();
    expect(after.map((c) => `${c.a}${c.b}${c.value}`)).not.toEqual(before.map((c) => `${c.a}${c.b}${c.value}`));
    await screenshot(page, 'dashboard-divergence-2019-06-01');
  });

  it('follows the known-at date too', async () => {
    const before = await heatmapCells();
    const response = page.waitForResponse((r) => r.url().includes('/v1/divergence?') && r.url().includes('knownAt=2019-01-01'));
    await page.fill('#knownat', '2019-01-01');
    await response;
    await page.waitForFunction(() => !document.getElementById('divergence-status')?.classList.contains('status-loading'));
    expect(page.url()).toContain('knownAt=2019-01-01');
    await expectHeatmapEqualsApi('2019-06-01', '2019-01-01');
    const after = await heatmapCells();
    expect(after.map((c) => c.value)).not.toEqual(before.map((c) => c.value));
    await screenshot(page, 'dashboard-divergence-known-at-2019-01-01');
    await page.click('#knownat-clear');
    await page.waitForFunction(() => !location.search.includes('knownAt='));
  });

  it('charts the index over time and the compliance gap', async () => {
    await page.click('#tab-series');
    await page.waitForSelector('#series-table table');
    expect(await page.locator('#series-table tbody tr').count()).toBeGreaterThan(1);
    await screenshot(page, 'dashboard-series');
    await page.click('#tab-gap');
    await page.waitForSelector('#gap-score');
    await screenshot(page, 'dashboard-gap');
  });

  it('creates a subscription from the page, lists it, and deletes it', async () => {
    const name = `EU milestones (browser test ${Date.now()})`;
    await page.fill('#api-key', adminKey);
    await page.click('#login button[type="submit"]');
    await page.click('#tab-alerts');
    await page.waitForSelector('#alerts-status:not(.status-loading)');
    await page.fill('#sub-name', name);
    await page.selectOption('#sub-rule', 'event');
    await page.selectOption('#sub-jurisdictions', ['EU']);
    await page.selectOption('#sub-channel', 'sse');
    await page.click('#sub-create');
    const row = page.locator('#subscriptions-table tr', { hasText: name });
    await row.waitFor();
    expect(await page.textContent('#sub-form-status')).toContain('Created');
    type Listed = { subscriptions: { id: string; name: string; filters: { jurisdictions?: string[] }; channel: { kind: string }; rule: { kind: string } }[] };
    const sub = (await api<Listed>('/v1/subscriptions', adminKey)).subscriptions.find((s) => s.name === name);
    expect(sub).toMatchObject({ filters: { jurisdictions: ['EU'] }, channel: { kind: 'sse' }, rule: { kind: 'event' } });
    expect(await row.getAttribute('data-subscription-id')).toBe(sub?.id);
    await screenshot(page, 'dashboard-alerts');

    page.once('dialog', (d) => void d.accept());
    await row.getByRole('button', { name: /Delete/ }).click();
    await row.waitFor({ state: 'detached' });
    expect((await api<Listed>('/v1/subscriptions', adminKey)).subscriptions.some((s) => s.id === sub?.id)).toBe(false);
  });

  it('shows new events live over SSE', async () => {
    await page.waitForSelector('#feed-state.live-live', { timeout: 15_000 });
    await api('/v1/events', adminKey, {
      method: 'POST',
      body: JSON.stringify({
        type: 'GuidanceIssued',
        subject: 'instrument-eu-ai-act',
        validtime: '2026-11-28',
        knowntime: '2026-11-28',
        data: { instrumentId: 'eu-ai-act', guidanceKind: 'guidance', title: 'Browser-test guidance', summary: 'posted by the dashboard browser test' },
      }),
    });
    await page.locator('#feed-list li[data-type="GuidanceIssued"]').first().waitFor({ timeout: 20_000 });
    await screenshot(page, 'dashboard-live-feed');
  });
});
