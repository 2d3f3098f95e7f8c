import { api, errorText, type GapResponse, isAbort } from './api.js';
import { chartFor, type Option } from './charts.js';
import { $, $select, h, replace, setStatus } from './dom.js';
import { dimensionLabel, num, pct, stanceLabel } from './format.js';
import { currentMeta } from './meta.js';
import { getState, knownJurisdictions, type State, update } from './state.js';

let controller: AbortController | null = null;

/** What a deployer already compliant in A still owes in B, dimension by dimension. */
export async function loadGap(s: State = getState()): Promise<void> {
  const status = $('gap-status');
  fillSelects(s);
  controller?.abort();
  const ctl = new AbortController();
  controller = ctl;
  if (s.gapFrom === s.gapTo) {
    setStatus(status, 'empty', 'Choose two different jurisdictions.');
    replace($('gap-result'));
    $('gap-chart').hidden = true;
    return;
  }
  setStatus(status, 'loading', 'Computing the compliance gap…');
  try {
    const data = await api<GapResponse>('/v1/gap', { from: s.gapFrom, to: s.gapTo, asOf: s.asOf, knownAt: s.knownAt }, { signal: ctl.signal });
    if (ctl.signal.aborted) return;
    render(data, s);
  } catch (e) {
    if (isAbort(e)) return;
    setStatus(status, 'error', `Could not load the gap: ${errorText(e)}`);
  }
}

function fillSelects(s: State): void {
  const js = [...new Set([...knownJurisdictions(), s.gapFrom, s.gapTo])];
  for (const [id, value] of [['gap-from', s.gapFrom], ['gap-to', s.gapTo]] as const) {
    const sel = $select(id);
    replace(sel, js.map((j) => h('option', { value: j, selected: j === value }, j)));
    sel.value = value;
  }
}

export function initGapControls(): void {
  $select('gap-from').addEventListener('change', (ev) => update({ gapFrom: (ev.target as HTMLSelectElement).value }));
  $select('gap-to').addEventListener('change', (ev) => update({ gapTo: (ev.target as HTMLSelectElement).value }));
  $('gap-swap').addEventListener('click', () => {
    const s = getState();
    update({ gapFrom: s.gapTo, gapTo: s.gapFrom });
  });
}

function render(data: GapResponse, s: State): void {
  const meta = currentMeta();
  const status = $('gap-status');
  const chartEl = $('gap-chart');
  const title = `${data.from} → ${data.to}`;
  if (data.score === null) setStatus(status, 'empty', `${data.from} and ${data.to} share no comparable coded dimension as of ${s.asOf}.`);
  else if (data.items.length === 0) setStatus(status, 'empty', `Nothing more is owed: a deployer compliant in ${data.from} meets ${data.to}'s coded demands as of ${s.asOf}.`);
  else setStatus(status, 'none', `A deployer compliant in ${data.from} still owes ${data.to} this much on ${data.items.length} dimension(s), as of ${s.asOf}.`);

  if (data.items.length) {
    chartEl.hidden = false;
    const items = [...data.items].sort((a, b) => a.owed - b.owed);
    const option: Option = {
      animation: false,
      aria: { enabled: true, description: `Bar chart of what is owed moving from ${data.from} to ${data.to}, by dimension. The table lists the same.` },
      grid: { left: 220, right: 40, top: 10, bottom: 30 },
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => pct(typeof v === 'number' ? v : null) },
      xAxis: { type: 'value', min: 0, max: 1, axisLabel: { formatter: (v: number) => `${Math.round(v * 100)}%` } },
      yAxis: { type: 'category', data: items.map((i) => dimensionLabel(meta, i.dimension)) },
      series: [{ type: 'bar', name: 'Owed', data: items.map((i) => i.owed), itemStyle: { color: '#c2572b' }, label: { show: true, position: 'right', formatter: (p) => pct(p.value as number) } }],
    };
    chartEl.style.height = `${Math.max(140, 50 + items.length * 34)}px`;
    const chart = chartFor(chartEl);
    chart.setOption(option, true);
    chart.resize();
  } else {
    chartEl.hidden = true;
  }

  replace(
    $('gap-result'),
    h('div', { className: 'stats' }, h('div', { className: 'stat', id: 'gap-score' }, h('span', { className: 'stat-label' }, `Gap score ${title}`), h('span', { className: 'stat-value' }, num(data.score))), h('div', { className: 'stat' }, h('span', { className: 'stat-label' }, 'Codebook'), h('span', { className: 'stat-value' }, data.codebookVersion))),
    data.items.length
      ? h(
          'table',
          { className: 'data', id: 'gap-table' },
          h('caption', {}, `What ${data.to} demands beyond ${data.from}`),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Dimension'), h('th', { scope: 'col' }, data.from), h('th', { scope: 'col' }, data.to), h('th', { scope: 'col' }, 'Owed'), h('th', { scope: 'col' }, 'Additional areas'))),
          h(
            'tbody',
            {},
            data.items.map((i) =>
              h(
                'tr',
                { 'data-dimension': i.dimension },
                h('th', { scope: 'row' }, dimensionLabel(meta, i.dimension)),
                h('td', {}, stanceLabel(meta?.codebook, i.dimension, i.from)),
                h('td', {}, stanceLabel(meta?.codebook, i.dimension, i.to)),
                h('td', { className: 'num' }, h('meter', { min: 0, max: 1, value: i.owed, 'aria-hidden': 'true' }), ` ${pct(i.owed)}`),
                h('td', {}, i.additionalAreas?.length ? stanceLabel(meta?.codebook, i.dimension, i.additionalAreas) : '—'),
              ),
            ),
          ),
        )
      : null,
    data.differentInKind.length ? h('p', {}, h('strong', {}, 'Different in kind (no direction): '), data.differentInKind.map((d) => dimensionLabel(meta, d)).join(', ')) : null,
    data.missing.length ? h('p', { className: 'muted' }, h('strong', {}, 'Not coded on both sides: '), data.missing.map((d) => dimensionLabel(meta, d)).join(', ')) : null,
  );
}
