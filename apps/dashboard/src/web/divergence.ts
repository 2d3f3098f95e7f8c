import { api, type DivergenceResponse, errorText, isAbort, type PairResult } from './api.js';
import { chartFor, type Option } from './charts.js';
import { $, esc, h, replace, setStatus } from './dom.js';
import { dimensionLabel, num, pct } from './format.js';
import { showFreshness } from './freshness.js';
import { currentMeta } from './meta.js';
import { getState, jurisdictionOrder, learnJurisdictions, type State, update } from './state.js';

let controller: AbortController | null = null;

export function divergenceParams(s: State): Record<string, string | readonly string[] | null> {
  return {
    asOf: s.asOf,
    knownAt: s.knownAt,
    jurisdictions: s.jurisdictions,
    dimension: s.dimension || null,
    variant: s.variant === 'all' ? null : s.variant,
    weights: s.weights === 'codebook' ? null : s.weights,
  };
}

/** The jurisdiction × jurisdiction matrix of the divergence index, with coverage. */
export async function loadDivergence(s: State = getState()): Promise<void> {
  const status = $('divergence-status');
  controller?.abort();
  const ctl = new AbortController();
  controller = ctl;
  setStatus(status, 'loading', 'Computing divergence…');
  try {
    const data = await api<DivergenceResponse>('/v1/divergence', divergenceParams(s), { signal: ctl.signal });
    if (ctl.signal.aborted) return;
    showFreshness(data.freshness);
    learnJurisdictions(data.jurisdictions);
    render(data, s);
  } catch (e) {
    if (isAbort(e)) return;
    setStatus(status, 'error', `Could not load divergence: ${errorText(e)}`);
  }
}

function lookup(pairs: readonly PairResult[]): (a: string, b: string) => PairResult | undefined {
  const m = new Map<string, PairResult>();
  for (const p of pairs) {
    m.set(`${p.a}|${p.b}`, p);
    m.set(`${p.b}|${p.a}`, p);
  }
  return (a, b) => m.get(`${a}|${b}`);
}

function render(data: DivergenceResponse, s: State): void {
  const status = $('divergence-status');
  const meta = currentMeta();
  const js = [...data.jurisdictions].sort(jurisdictionOrder);
  const get = lookup(data.pairs);
  const covered = data.pairs.filter((p) => p.value !== null).length;
  const dimText = s.dimension ? dimensionLabel(meta, s.dimension) : 'all dimensions';

  replace(
    $('divergence-stats'),
    stat('Global index', num(data.global.value), 'global-value'),
    stat('Dispersion', num(data.global.dispersion), 'global-dispersion'),
    stat('Pairs with overlap', `${data.global.pairs} of ${data.pairs.length}`, 'global-pairs'),
    stat('Mean coverage', pct(data.global.meanCoverage), 'global-coverage'),
    stat('Codebook', `${data.codebookVersion} · ${data.methodologyVersion}`, 'codebook-version'),
  );

  const chartEl = $('heatmap');
  if (js.length < 2 || data.pairs.length === 0) {
    setStatus(status, 'empty', 'Select at least two jurisdictions to compare.');
    chartEl.hidden = true;
    replace($('heatmap-table'));
    replace($('coverage'));
    return;
  }
  if (covered === 0) setStatus(status, 'empty', `No jurisdictions share a coded dimension (${dimText}) as of ${s.asOf}: nothing to compare yet.`);
  else setStatus(status, 'none', `Divergence on ${dimText} as of ${s.asOf}${s.knownAt ? `, as known on ${s.knownAt}` : ''}: 0 = same stance, 1 = opposite.`);
  chartEl.hidden = false;

  const cells: { value: [number, number, number | '-']; pair?: PairResult; label: { color: string } }[] = [];
  js.forEach((a, x) =>
    js.forEach((b, y) => {
      if (a === b) return;
      const p = get(a, b);
      cells.push({ value: [x, y, p?.value ?? '-'], ...(p ? { pair: p } : {}), label: { color: (p?.value ?? 0) >= 0.5 ? '#fff' : '#1b2430' } });
    }),
  );
  const option: Option = {
    animation: false,
    aria: { enabled: true, description: `Heatmap of pairwise divergence between ${js.join(', ')} on ${dimText}. The table below the chart has the same numbers.` },
    grid: { left: 90, right: 30, top: 16, bottom: 90 },
    tooltip: {
      formatter: (p) => {
        const d = (p as unknown as { data: { pair?: PairResult } }).data;
        const pr = d.pair;
        if (!pr) return '';
        return (
          `<strong>${esc(pr.a)} ↔ ${esc(pr.b)}</strong>: ${esc(num(pr.value))}` +
          (pr.band ? ` <span>(band ${esc(num(pr.band[0], 2))}–${esc(num(pr.band[1], 2))})</span>` : '') +
          `<br>coverage ${esc(pct(pr.coverage.weightShare))} of the codebook weight` +
          (pr.coverage.missing.length ? `<br>not coded on both sides: ${esc(pr.coverage.missing.map((m) => dimensionLabel(meta, m)).join(', '))}` : '') +
          '<br><em>click to chart this pair over time</em>'
        );
      },
    },
    xAxis: { type: 'category', data: js, splitArea: { show: true }, axisLabel: { rotate: js.length > 6 ? 30 : 0 } },
    yAxis: { type: 'category', data: js, splitArea: { show: true }, inverse: true },
    visualMap: { min: 0, max: 1, calculable: false, orient: 'horizontal', left: 'center', bottom: 8, itemWidth: 12, itemHeight: 160, text: ['1 divergent', '0 aligned'], inRange: { color: ['#f3f7fb', '#9cc0e0', '#2f5d9e', '#152b4d'] } },
    series: [
      {
        name: 'Divergence',
        type: 'heatmap',
        data: cells as unknown as number[][],
        label: { show: true, formatter: (p) => { const v = (p as unknown as { data: { value: [number, number, number | '-'] } }).data.value[2]; return typeof v === 'number' ? v.toFixed(2) : '—'; }, fontSize: 12 },
        emphasis: { itemStyle: { borderColor: '#c2572b', borderWidth: 2 } },
        itemStyle: { borderColor: '#fff', borderWidth: 1 },
      },
    ],
  };
  chartEl.style.height = `${Math.max(300, 120 + js.length * 44)}px`;
  const chart = chartFor(chartEl);
  chart.setOption(option, true);
  chart.resize();
  chart.off('click');
  chart.on('click', (p) => {
    const pr = (p as unknown as { data?: { pair?: PairResult } }).data?.pair;
    if (pr) update({ pair: [pr.a, pr.b], tab: 'series' });
  });

  // The same numbers as a table: readable by screen readers, reachable by keyboard, and what tests read.
  replace(
    $('heatmap-table'),
    h(
      'table',
      { className: 'data matrix', id: 'divergence-matrix' },
      h('caption', {}, `Pairwise divergence (${dimText}); small figures are coverage of the codebook weight. Choose a pair to chart it over time.`),
      h('thead', {}, h('tr', {}, h('td', {}), js.map((j) => h('th', { scope: 'col' }, j)))),
      h(
        'tbody',
        {},
        js.map((a) =>
          h(
            'tr',
            {},
            h('th', { scope: 'row' }, a),
            js.map((b) => {
              if (a === b) return h('td', { className: 'diag', 'aria-label': `${a} with itself` }, '·');
              const p = get(a, b);
              if (!p) return h('td', {}, '');
              return h(
                'td',
                {
                  className: p.value === null ? 'cell nodata' : p.value >= 0.5 ? 'cell dark' : 'cell',
                  'data-a': a,
                  'data-b': b,
                  'data-value': p.value === null ? '' : String(p.value),
                  'data-coverage': String(p.coverage.weightShare),
                  style: p.value === null ? '' : `--v:${p.value.toFixed(3)}`,
                },
                h(
                  'button',
                  { type: 'button', className: 'cellbtn', onclick: () => update({ pair: [p.a, p.b], tab: 'series' }), 'aria-label': `${a} and ${b}: ${p.value === null ? 'no overlap' : num(p.value)}, coverage ${pct(p.coverage.weightShare)}. Chart over time.` },
                  h('span', { className: 'v' }, num(p.value)),
                  h('small', {}, pct(p.coverage.weightShare)),
                ),
              );
            }),
          ),
        ),
      ),
    ),
  );

  const cov = Object.entries(data.coverage ?? {});
  const ref = data.reference ?? [];
  replace(
    $('coverage'),
    ref.length
      ? h(
          'table',
          { className: 'data coverage', id: 'reference-table' },
          h('caption', {}, 'Distance to the reference regime (the OECD AI Principles)'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Jurisdiction'), h('th', { scope: 'col' }, 'Distance'))),
          h(
            'tbody',
            {},
            ref.map((r) => h('tr', {}, h('th', { scope: 'row' }, r.jurisdiction), h('td', {}, h('meter', { min: 0, max: 1, value: r.value ?? 0, 'aria-hidden': 'true' }), ` ${num(r.value)}`))),
          ),
        )
      : null,
    cov.length === 0
      ? h('p', { className: 'muted' }, 'The API did not report coverage by dimension.')
      : h(
          'table',
          { className: 'data coverage' },
          h('caption', {}, 'Coverage by dimension: share of the selected jurisdictions coded on it'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Dimension'), h('th', { scope: 'col' }, 'Coverage'))),
          h(
            'tbody',
            {},
            cov.map(([dim, share]) =>
              h(
                'tr',
                { 'data-dimension': dim },
                h('th', { scope: 'row' }, dimensionLabel(meta, dim)),
                h('td', {}, h('meter', { min: 0, max: 1, value: share, 'aria-label': `${dimensionLabel(meta, dim)} coverage` }), ` ${pct(share)}`),
              ),
            ),
          ),
        ),
  );
}

function stat(label: string, value: string, id: string): HTMLElement {
  return h('div', { className: 'stat', id }, h('span', { className: 'stat-label' }, label), h('span', { className: 'stat-value' }, value));
}
