import type * as Echarts from 'echarts';

declare global {
  interface Window {
    echarts?: typeof Echarts;
  }
}

export type Chart = Echarts.ECharts;
export type Option = Echarts.EChartsOption;

export const PALETTE = ['#2f5d9e', '#c2572b', '#3d8b5a', '#8a4fa3', '#b08a1e', '#2a8a9a', '#a33b5c', '#5c6b7a', '#6f8f2f', '#9e6a3a'];

const observed = new WeakSet<HTMLElement>();

/** One ECharts instance per element, resized with its box. SVG keeps labels in the DOM (and crisp). */
export function chartFor(el: HTMLElement): Chart {
  const ec = window.echarts;
  if (!ec) throw new Error('ECharts did not load (/assets/echarts.min.js)');
  const chart = ec.getInstanceByDom(el) ?? ec.init(el, undefined, { renderer: 'svg' });
  if (!observed.has(el)) {
    observed.add(el);
    new ResizeObserver(() => window.echarts?.getInstanceByDom(el)?.resize()).observe(el);
  }
  return chart;
}

export function disposeChart(el: HTMLElement): void {
  window.echarts?.getInstanceByDom(el)?.dispose();
}
