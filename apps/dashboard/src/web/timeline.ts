import { api, errorText, isAbort, type Milestone, type TimelineResponse } from './api.js';
import { chartFor, type Option } from './charts.js';
import { $, esc, h, replace, setStatus } from './dom.js';
import { day, humanType } from './format.js';
import { showFreshness } from './freshness.js';
import { getState, jurisdictionOrder, learnJurisdictions, type State } from './state.js';
import { openInstrument } from './instrument.js';

let controller: AbortController | null = null;

interface Point {
  readonly value: [string, number];
  readonly m: Milestone;
  readonly lane: string;
}

/** One swimlane per jurisdiction; future milestones hollow and dashed; the as-of date as a line. */
export async function loadTimeline(s: State = getState()): Promise<void> {
  const status = $('timeline-status');
  controller?.abort();
  const ctl = new AbortController();
  controller = ctl;
  setStatus(status, 'loading', 'Loading the timeline…');
  try {
    const data = await api<TimelineResponse>('/v1/timeline', { asOf: s.asOf, knownAt: s.knownAt, jurisdictions: s.jurisdictions }, { signal: ctl.signal });
    if (ctl.signal.aborted) return;
    showFreshness(data.freshness);
    learnJurisdictions(data.lanes.map((l) => l.jurisdiction));
    render(data, s);
  } catch (e) {
    if (isAbort(e)) return;
    setStatus(status, 'error', `Could not load the timeline: ${errorText(e)}`);
  }
}

function render(data: TimelineResponse, s: State): void {
  const status = $('timeline-status');
  const lanes = [...data.lanes].filter((l) => l.milestones.length > 0).sort((a, b) => jurisdictionOrder(a.jurisdiction, b.jurisdiction));
  const total = lanes.reduce((n, l) => n + l.milestones.length, 0);
  const chartEl = $('timeline-chart');
  const list = $('timeline-list');
  if (total === 0) {
    setStatus(status, 'empty', 'No milestones for these jurisdictions as known at this date.');
    chartEl.hidden = true;
    replace(list);
    return;
  }
  const future = lanes.reduce((n, l) => n + l.milestones.filter((m) => m.future).length, 0);
  setStatus(status, 'none', `${total} milestones in ${lanes.length} jurisdictions; ${future} still ahead of ${s.asOf}.${data.truncated ? ' The list is cut short: choose fewer jurisdictions to see every milestone.' : ''}`);
  chartEl.hidden = false;
  const names = lanes.map((l) => l.jurisdiction);
  const points = (fut: boolean): Point[] =>
    lanes.flatMap((l, i) => l.milestones.filter((m) => m.future === fut).map((m) => ({ value: [day(m.validTime), i] as [string, number], m, lane: l.jurisdiction })));
  const tooltip = (p: Point): string =>
    `<strong>${esc(p.m.instrumentTitle ?? p.m.instrumentId)}</strong><br>${esc(humanType(p.m.type))}${p.m.provision ? ` — ${esc(p.m.provision)}` : ''}<br>` +
    `${esc(p.lane)} · valid ${esc(day(p.m.validTime))} · known ${esc(day(p.m.knownTime))}${p.m.future ? ' · <em>future</em>' : ''}` +
    (p.m.summary ? `<br><span class="tt-summary">${esc(p.m.summary.length > 220 ? `${p.m.summary.slice(0, 220)}…` : p.m.summary)}</span>` : '');
  const option: Option = {
    animation: false,
    aria: { enabled: true, description: `Timeline of ${total} regulatory milestones in ${names.join(', ')}; ${future} are in the future. The list below the chart has every milestone.` },
    grid: { left: 90, right: 24, top: 58, bottom: 44 },
    legend: { top: 0, data: ['Past or in force', 'Future (not yet reached)'] },
    tooltip: { trigger: 'item', confine: true, formatter: (p) => tooltip((p as unknown as { data: Point }).data) },
    xAxis: { type: 'time', position: 'top', splitLine: { show: true, lineStyle: { color: '#eef1f5' } } },
    yAxis: { type: 'category', data: names, inverse: true, axisTick: { show: false }, splitLine: { show: true, lineStyle: { color: '#e3e7ee' } }, axisLabel: { fontWeight: 'bold' } },
    dataZoom: [
      { type: 'slider', xAxisIndex: 0, height: 16, bottom: 8, labelFormatter: (v: number) => new Date(v).toISOString().slice(0, 7) },
      { type: 'inside', xAxisIndex: 0 },
    ],
    series: [
      {
        name: 'Past or in force',
        type: 'scatter',
        symbol: 'circle',
        symbolSize: 11,
        itemStyle: { color: '#2f5d9e', opacity: 0.85, borderColor: '#fff', borderWidth: 1 },
        data: points(false) as unknown as number[][],
        markLine: {
          silent: true,
          symbol: 'none',
          lineStyle: { color: '#c2572b', width: 2 },
          label: { formatter: `as of ${s.asOf}`, position: 'insideEndTop', color: '#c2572b' },
          data: [{ xAxis: s.asOf }],
        },
      },
      {
        name: 'Future (not yet reached)',
        type: 'scatter',
        symbol: 'diamond',
        symbolSize: 13,
        itemStyle: { color: 'rgba(255,255,255,0.9)', borderColor: '#c2572b', borderWidth: 2, borderType: 'dashed' },
        data: points(true) as unknown as number[][],
      },
    ],
  };
  const chart = chartFor(chartEl);
  chart.setOption(option, true);
  chart.off('click');
  chart.on('click', (p) => {
    const point = (p as unknown as { data?: Point }).data;
    if (point?.m) void openInstrument(point.m.instrumentId);
  });
  chartEl.style.height = `${Math.max(220, 110 + names.length * 30)}px`;
  chart.resize();

  replace(
    list,
    lanes.map((l) =>
      h(
        'details',
        { className: 'lane', open: l.milestones.length <= 6 },
        h('summary', {}, h('strong', {}, l.jurisdiction), ` — ${l.milestones.length} milestones`, l.milestones.some((m) => m.future) ? `, ${l.milestones.filter((m) => m.future).length} ahead` : ''),
        h(
          'ol',
          { className: 'milestones' },
          [...l.milestones]
            .sort((a, b) => a.validTime.localeCompare(b.validTime))
            .map((m) =>
              h(
                'li',
                { className: m.future ? 'future' : 'past', 'data-event-id': m.eventId },
                h('time', { datetime: day(m.validTime) }, day(m.validTime)),
                ' ',
                m.future ? h('span', { className: 'badge badge-future' }, 'future') : null,
                ' ',
                h('button', { type: 'button', className: 'linklike', onclick: () => void openInstrument(m.instrumentId), 'aria-haspopup': 'dialog' }, m.instrumentTitle ?? m.instrumentId),
                ` — ${humanType(m.type)}`,
                m.provision ? ` (${m.provision})` : '',
              ),
            ),
        ),
      ),
    ),
  );
}
