import { api, errorText, isAbort, type SeriesPoint, type SeriesResponse } from './api.js';
import type { LineSeriesOption } from 'echarts';
import { chartFor, type Option, PALETTE } from './charts.js';
import { $, $select, esc, h, replace, setStatus } from './dom.js';
import { day, dimensionLabel, num, stanceLabel } from './format.js';
import { eventById, loadStanceEvents } from './events.js';
import { currentMeta } from './meta.js';
import { getState, knownJurisdictions, type State, update } from './state.js';

let controller: AbortController | null = null;

function describe(id: string): string {
  const e = eventById(id);
  if (!e) return id.slice(0, 8);
  if (e.type === 'StanceCoded') {
    const d = e.data as { jurisdiction?: string; dimension?: string; value?: number | string | string[] };
    const meta = currentMeta();
    return `${d.jurisdiction ?? '?'} · ${dimensionLabel(meta, d.dimension ?? '')} → ${d.value === undefined ? '?' : stanceLabel(meta?.codebook, d.dimension ?? '', d.value)}`;
  }
  return `${e.type} (${e.subject})`;
}

/** The global index (and one chosen pair) over time, each step annotated with the codings that moved it. */
export async function loadSeries(s: State = getState()): Promise<void> {
  const status = $('series-status');
  controller?.abort();
  const ctl = new AbortController();
  controller = ctl;
  setStatus(status, 'loading', 'Computing the index over time…');
  fillPairSelect(s);
  const base = { jurisdictions: s.jurisdictions, dimension: s.dimension || null, to: s.asOf, knownAt: s.knownAt };
  try {
    const [global, pair] = await Promise.all([
      api<SeriesResponse>('/v1/divergence/series', base, { signal: ctl.signal }),
      s.pair ? api<SeriesResponse>('/v1/divergence/series', { ...base, a: s.pair[0], b: s.pair[1] }, { signal: ctl.signal }) : Promise.resolve(null),
      loadStanceEvents(),
    ]);
    if (ctl.signal.aborted) return;
    render(global, pair, s);
  } catch (e) {
    if (isAbort(e)) return;
    setStatus(status, 'error', `Could not load the index over time: ${errorText(e)}`);
  }
}

function fillPairSelect(s: State): void {
  const sel = $select('series-pair');
  const js = knownJurisdictions();
  const want = s.pair ? s.pair.join('|') : '';
  const options: [string, string][] = [['', 'Global index only']];
  for (let i = 0; i < js.length; i++) for (let j = i + 1; j < js.length; j++) options.push([`${js[i]}|${js[j]}`, `${js[i]} ↔ ${js[j]}`]);
  if (want && !options.some(([v]) => v === want) && s.pair) options.push([want, `${s.pair[0]} ↔ ${s.pair[1]}`]);
  replace(sel, options.map(([v, t]) => h('option', { value: v, selected: v === want }, t)));
  sel.value = want;
}

export function initSeriesControls(): void {
  $select('series-pair').addEventListener('change', (ev) => {
    const v = (ev.target as HTMLSelectElement).value;
    const [a, b] = v.split('|');
    update({ pair: a && b ? [a, b] : null });
  });
}

function steps(points: readonly SeriesPoint[]): { date: string; value: number | null; delta: number | null; causedBy: readonly string[] }[] {
  let prev: number | null = null;
  return points.map((p) => {
    const delta = p.value !== null && prev !== null ? p.value - prev : null;
    prev = p.value;
    return { date: day(p.validFrom), value: p.value, delta, causedBy: p.causedBy ?? [] };
  });
}

function render(global: SeriesResponse, pair: SeriesResponse | null, s: State): void {
  const status = $('series-status');
  const chartEl = $('series-chart');
  const meta = currentMeta();
  const dimText = s.dimension ? dimensionLabel(meta, s.dimension) : 'all dimensions';
  const g = steps(global.points);
  const p = pair ? steps(pair.points) : [];
  if (g.length === 0 && p.length === 0) {
    setStatus(status, 'empty', `No coded stances up to ${s.asOf}: the index has no history yet.`);
    chartEl.hidden = true;
    replace($('series-table'));
    return;
  }
  setStatus(status, 'none', `Divergence on ${dimText} up to ${s.asOf}; markers show the codings that moved it.`);
  chartEl.hidden = false;
  const marks = (rows: typeof g) =>
    rows
      .filter((r) => r.causedBy.length > 0 && r.value !== null)
      .map((r) => ({ name: r.date, coord: [r.date, r.value as number], value: r.causedBy.length, causedBy: r.causedBy, date: r.date, delta: r.delta }));
  const markTip = (d: { causedBy: readonly string[]; date: string; delta: number | null }) =>
    `<strong>${esc(d.date)}</strong>${d.delta !== null ? ` (Δ ${esc(d.delta >= 0 ? '+' : '')}${esc(num(d.delta))})` : ''}<br>` +
    d.causedBy.slice(0, 8).map((id) => esc(describe(id))).join('<br>') +
    (d.causedBy.length > 8 ? `<br>… and ${d.causedBy.length - 8} more` : '');
  // Carry the last value to the as-of date, so the line (and the as-of marker) reach it.
  const line = (rows: typeof g): [string, number][] => {
    const pts = rows.filter((r) => r.value !== null).map((r) => [r.date, r.value as number] as [string, number]);
    const last = pts[pts.length - 1];
    if (last && last[0] < s.asOf) pts.push([s.asOf, last[1]]);
    return pts;
  };
  const series: LineSeriesOption[] = [
    {
      name: 'Global index',
      type: 'line',
      step: 'end',
      showSymbol: false,
      lineStyle: { width: 2.5 },
      color: PALETTE[0],
      data: line(g),
      markPoint: { symbol: 'pin', symbolSize: 26, label: { fontSize: 10 }, data: marks(g) as unknown as { name: string; coord: [string, number] }[], tooltip: { formatter: (x) => markTip((x as { data: Parameters<typeof markTip>[0] }).data) } },
      markLine: { silent: true, symbol: 'none', lineStyle: { color: '#c2572b' }, label: { formatter: `as of ${s.asOf}`, position: 'insideEndTop', color: '#c2572b' }, data: [{ xAxis: s.asOf }] },
    },
  ];
  if (pair && s.pair) {
    series.push({
      name: `${s.pair[0]} ↔ ${s.pair[1]}`,
      type: 'line',
      step: 'end',
      showSymbol: false,
      lineStyle: { width: 2, type: 'dashed' },
      color: PALETTE[1],
      data: line(p),
      markPoint: { symbol: 'pin', symbolSize: 22, itemStyle: { color: PALETTE[1] }, label: { fontSize: 10 }, data: marks(p) as unknown as { name: string; coord: [string, number] }[], tooltip: { formatter: (x) => markTip((x as { data: Parameters<typeof markTip>[0] }).data) } },
    });
  }
  const option: Option = {
    animation: false,
    aria: { enabled: true, description: `Line chart of the divergence index over time up to ${s.asOf}. The table below lists every change and its causes.` },
    legend: { top: 0 },
    grid: { left: 50, right: 30, top: 36, bottom: 60 },
    tooltip: { trigger: 'axis', valueFormatter: (v) => (typeof v === 'number' ? v.toFixed(3) : String(v)) },
    xAxis: { type: 'time' },
    yAxis: { type: 'value', min: 0, max: 1, name: 'index' },
    dataZoom: [{ type: 'slider', height: 18, bottom: 10 }, { type: 'inside' }],
    series,
  };
  const chart = chartFor(chartEl);
  chart.setOption(option, true);
  chart.resize();

  const rows = (label: string, rs: typeof g) =>
    rs.map((r) =>
      h(
        'tr',
        {},
        h('td', {}, r.date),
        h('td', {}, label),
        h('td', { className: 'num' }, num(r.value)),
        h('td', { className: `num ${r.delta === null ? '' : r.delta > 0 ? 'up' : r.delta < 0 ? 'down' : ''}` }, r.delta === null ? '—' : `${r.delta >= 0 ? '+' : ''}${num(r.delta)}`),
        h('td', {}, r.causedBy.length ? h('ul', { className: 'plain causes' }, r.causedBy.map((id) => h('li', { 'data-event-id': id }, describe(id)))) : h('span', { className: 'muted' }, '—')),
      ),
    );
  replace(
    $('series-table'),
    h(
      'table',
      { className: 'data' },
      h('caption', {}, 'Every change of the index (newest first), with the events that caused it'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'From'), h('th', { scope: 'col' }, 'Series'), h('th', { scope: 'col' }, 'Index'), h('th', { scope: 'col' }, 'Change'), h('th', { scope: 'col' }, 'Caused by'))),
      h('tbody', {}, [...rows('Global', [...g].reverse()), ...(s.pair ? rows(`${s.pair[0]} ↔ ${s.pair[1]}`, [...p].reverse()) : [])]),
    ),
  );
}
