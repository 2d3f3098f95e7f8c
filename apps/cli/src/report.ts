import { CODEBOOK_V1, dimensionById, type LogEvent } from '@regstream/domain';
import { type Divergence, type SeriesPoint } from './views';

/** Self-contained reports: inline SVG and CSS only, no script, no external resource. */

export interface ReportData {
  readonly asOf: string;
  readonly knownAt?: string;
  readonly dimension?: string;
  readonly divergence: Divergence;
  readonly series: readonly SeriesPoint[];
  readonly generatedAt: string;
  readonly log: readonly LogEvent[];
}

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
const f3 = (v: number | null | undefined) => (v === null || v === undefined ? '—' : v.toFixed(3));
const label = (dim: string) => dimensionById(CODEBOOK_V1, dim)?.label ?? dim;

function mix(a: string, b: string, t: number): string {
  const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
  const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
  return `#${pa.map((x, i) => Math.round(x + ((pb[i] ?? 0) - x) * t).toString(16).padStart(2, '0')).join('')}`;
}

/** 0 → pale, 1 → dark blue. */
export function color(v: number): string {
  const stops = ['#f3f7fb', '#9cc0e0', '#2f5d9e', '#152b4d'];
  const x = Math.max(0, Math.min(1, v)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  return mix(stops[i] as string, stops[i + 1] as string, x - i);
}

export function heatmapSvg(d: Divergence, x0 = 0, y0 = 0): { svg: string; width: number; height: number } {
  const js = d.jurisdictions;
  const cell = 58;
  const left = 96;
  const top = 34;
  const n = js.length;
  const width = Math.max(left + n * cell + 20, left + 430);
  const height = top + n * cell + 60;
  const get = (a: string, b: string) => d.pairs.find((p) => (p.a === a && p.b === b) || (p.a === b && p.b === a));
  const parts: string[] = [`<g transform="translate(${x0},${y0})" font-family="system-ui, sans-serif" font-size="12">`];
  js.forEach((j, i) => {
    parts.push(`<text x="${left + i * cell + cell / 2}" y="${top - 10}" text-anchor="middle" font-weight="600">${esc(j)}</text>`);
    parts.push(`<text x="${left - 8}" y="${top + i * cell + cell / 2 + 4}" text-anchor="end" font-weight="600">${esc(j)}</text>`);
  });
  js.forEach((a, r) =>
    js.forEach((b, c) => {
      const x = left + c * cell;
      const y = top + r * cell;
      if (a === b) {
        parts.push(`<rect x="${x}" y="${y}" width="${cell - 2}" height="${cell - 2}" fill="#eef0f3"/>`);
        return;
      }
      const p = get(a, b);
      const v = p?.value ?? null;
      const fill = v === null ? '#e3e6eb' : color(v);
      const ink = v !== null && v >= 0.5 ? '#ffffff' : '#1b2430';
      parts.push(
        `<rect x="${x}" y="${y}" width="${cell - 2}" height="${cell - 2}" fill="${fill}"><title>${esc(`${a} ↔ ${b}: ${f3(v)}; coverage ${p ? Math.round(p.coverage.weightShare * 100) : 0}%`)}</title></rect>` +
          `<text x="${x + cell / 2 - 1}" y="${y + cell / 2 - 1}" text-anchor="middle" fill="${ink}" font-weight="600">${v === null ? '—' : v.toFixed(2)}</text>` +
          `<text x="${x + cell / 2 - 1}" y="${y + cell / 2 + 13}" text-anchor="middle" fill="${ink}" font-size="9">${p ? `${Math.round(p.coverage.weightShare * 100)}%` : ''}</text>`,
      );
    }),
  );
  const ly = top + n * cell + 22;
  for (let k = 0; k <= 20; k++) parts.push(`<rect x="${left + k * 8}" y="${ly}" width="8" height="10" fill="${color(k / 20)}"/>`);
  parts.push(`<text x="${left}" y="${ly + 26}" font-size="10">0 aligned</text><text x="${left + 168}" y="${ly + 26}" font-size="10" text-anchor="end">1 divergent</text>`);
  parts.push(`<text x="${left + 190}" y="${ly + 9}" font-size="10" fill="#5a6573">small figures: coverage of the codebook weight</text>`);
  parts.push('</g>');
  return { svg: parts.join(''), width, height };
}

const dayMs = (iso: string) => Date.parse(`${iso.slice(0, 10)}T00:00:00Z`);

export function seriesSvg(points: readonly SeriesPoint[], asOf: string, x0 = 0, y0 = 0, width = 760, height = 300): { svg: string; width: number; height: number } {
  const pad = { l: 46, r: 16, t: 14, b: 34 };
  const pts = points.filter((p): p is SeriesPoint & { value: number } => p.value !== null);
  const parts: string[] = [`<g transform="translate(${x0},${y0})" font-family="system-ui, sans-serif" font-size="11">`];
  const w = width - pad.l - pad.r;
  const h = height - pad.t - pad.b;
  parts.push(`<rect x="${pad.l}" y="${pad.t}" width="${w}" height="${h}" fill="#fbfcfd" stroke="#d9dee6"/>`);
  for (let k = 0; k <= 5; k++) {
    const y = pad.t + h - (k / 5) * h;
    parts.push(`<line x1="${pad.l}" x2="${pad.l + w}" y1="${y}" y2="${y}" stroke="#e7eaef"/><text x="${pad.l - 6}" y="${y + 4}" text-anchor="end">${(k / 5).toFixed(1)}</text>`);
  }
  if (pts.length === 0) {
    parts.push(`<text x="${pad.l + w / 2}" y="${pad.t + h / 2}" text-anchor="middle" fill="#5a6573">no coded stances up to ${esc(asOf)}</text></g>`);
    return { svg: parts.join(''), width, height };
  }
  const t0 = dayMs(pts[0]?.validFrom ?? asOf);
  const t1 = Math.max(dayMs(asOf), t0 + 86_400_000);
  const sx = (iso: string) => pad.l + ((dayMs(iso) - t0) / (t1 - t0)) * w;
  const sy = (v: number) => pad.t + h - v * h;
  const y0y = new Date(t0).getUTCFullYear();
  const y1y = new Date(t1).getUTCFullYear();
  const stepYears = Math.max(1, Math.ceil((y1y - y0y) / 10));
  for (let y = y0y + 1; y <= y1y; y += stepYears) {
    const x = sx(`${y}-01-01`);
    parts.push(`<line x1="${x}" x2="${x}" y1="${pad.t}" y2="${pad.t + h}" stroke="#eef0f3"/><text x="${x}" y="${pad.t + h + 16}" text-anchor="middle">${y}</text>`);
  }
  let d = '';
  pts.forEach((p, i) => {
    const x = sx(p.validFrom);
    const y = sy(p.value);
    d += i === 0 ? `M${x.toFixed(1)},${y.toFixed(1)}` : `H${x.toFixed(1)}V${y.toFixed(1)}`;
  });
  const last = pts[pts.length - 1];
  if (last) d += `H${sx(asOf).toFixed(1)}`;
  parts.push(`<path d="${d}" fill="none" stroke="#2f5d9e" stroke-width="2.5"/>`);
  for (const p of pts) {
    if (p.causedBy.length === 0) continue;
    parts.push(`<circle cx="${sx(p.validFrom).toFixed(1)}" cy="${sy(p.value).toFixed(1)}" r="${Math.min(7, 3 + p.causedBy.length / 2).toFixed(1)}" fill="#c2572b" fill-opacity="0.8"><title>${esc(`${p.validFrom}: ${f3(p.value)} — ${p.causedBy.length} coding(s)`)}</title></circle>`);
  }
  const ax = sx(asOf);
  parts.push(`<line x1="${ax}" x2="${ax}" y1="${pad.t}" y2="${pad.t + h}" stroke="#c2572b" stroke-dasharray="4 3"/><text x="${ax - 4}" y="${pad.t + 12}" text-anchor="end" fill="#c2572b">as of ${esc(asOf)}</text>`);
  parts.push('</g>');
  return { svg: parts.join(''), width, height };
}

function causeText(log: readonly LogEvent[], id: string): string {
  const e = log.find((x) => x.id === id);
  if (!e || e.type !== 'StanceCoded') return id;
  return `${e.data.jurisdiction} · ${label(e.data.dimension)} → ${Array.isArray(e.data.value) ? e.data.value.join(', ') : String(e.data.value)}`;
}

function title(r: ReportData): string {
  return `Divergence in AI regulation as of ${r.asOf}${r.knownAt ? `, as known at ${r.knownAt}` : ''}`;
}

export function reportSvg(r: ReportData): string {
  const hm = heatmapSvg(r.divergence, 20, 70);
  const ch = seriesSvg(r.series, r.asOf, 20, 70 + hm.height + 40);
  const width = Math.max(hm.width, ch.width) + 40;
  const height = 70 + hm.height + 40 + ch.height + 40;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(title(r))}">`,
    `<title>${esc(title(r))}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="20" y="30" font-family="system-ui, sans-serif" font-size="18" font-weight="700">${esc(title(r))}</text>`,
    `<text x="20" y="52" font-family="system-ui, sans-serif" font-size="12" fill="#5a6573">${esc(`${r.dimension ? label(r.dimension) : 'All dimensions'} · global index ${f3(r.divergence.global.value)} (dispersion ${f3(r.divergence.global.dispersion)}) · codebook ${r.divergence.codebookVersion}, ${r.divergence.methodologyVersion}`)}</text>`,
    hm.svg,
    `<text x="20" y="${70 + hm.height + 30}" font-family="system-ui, sans-serif" font-size="14" font-weight="600">Global index over time</text>`,
    ch.svg,
    '</svg>',
    '',
  ].join('\n');
}

export function reportHtml(r: ReportData): string {
  const d = r.divergence;
  const hm = heatmapSvg(d);
  const ch = seriesSvg(r.series, r.asOf);
  const changes = [...r.series].reverse();
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title(r))}</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1b2430; max-width: 980px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.5rem; margin-bottom: .2rem; }
.meta { color: #5a6573; margin-top: 0; }
.stats { display: flex; gap: .8rem; flex-wrap: wrap; margin: 1rem 0; }
.stat { border: 1px solid #d9dee6; border-radius: 6px; padding: .4rem .8rem; }
.stat b { display: block; font-size: 1.2rem; }
table { border-collapse: collapse; width: 100%; font-size: .9rem; margin: .5rem 0 1.5rem; }
th, td { border-bottom: 1px solid #e7eaef; padding: .3rem .5rem; text-align: left; vertical-align: top; }
thead th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; overflow-x: auto; }
figcaption { color: #5a6573; font-size: .85rem; }
footer { color: #5a6573; font-size: .8rem; border-top: 1px solid #e7eaef; padding-top: .6rem; margin-top: 2rem; }
</style>
</head>
<body>
<h1>${esc(title(r))}</h1>
<p class="meta">${esc(r.dimension ? `Dimension: ${label(r.dimension)}` : 'All codebook dimensions (composite index)')} · codebook ${esc(d.codebookVersion)} · methodology ${esc(d.methodologyVersion)} · generated ${esc(r.generatedAt)} by regstream</p>
<div class="stats">
<div class="stat">Global index<b>${f3(d.global.value)}</b></div>
<div class="stat">Dispersion<b>${f3(d.global.dispersion)}</b></div>
<div class="stat">Pairs with overlap<b>${d.global.pairs} of ${d.pairs.length}</b></div>
<div class="stat">Mean coverage<b>${Math.round(d.global.meanCoverage * 100)}%</b></div>
</div>
<h2>Divergence matrix</h2>
<figure>
<svg xmlns="http://www.w3.org/2000/svg" width="${hm.width}" height="${hm.height}" viewBox="0 0 ${hm.width} ${hm.height}" role="img" aria-label="Divergence matrix heatmap">${hm.svg}</svg>
<figcaption>0 = the same stance on every covered dimension, 1 = opposite. A dimension not coded on both sides is left out of a pair and never counts as agreement.</figcaption>
</figure>
<table>
<thead><tr><th>Pair</th><th class="num">Index</th><th class="num">Band</th><th class="num">Coverage</th><th>Not coded on both sides</th></tr></thead>
<tbody>
${d.pairs.map((p) => `<tr><td>${esc(p.a)} ↔ ${esc(p.b)}</td><td class="num">${f3(p.value)}</td><td class="num">${p.band ? `${p.band[0].toFixed(2)}–${p.band[1].toFixed(2)}` : '—'}</td><td class="num">${Math.round(p.coverage.weightShare * 100)}%</td><td>${esc(p.coverage.missing.map(label).join(', '))}</td></tr>`).join('\n')}
</tbody>
</table>
<h2>Global index over time</h2>
<figure>
<svg xmlns="http://www.w3.org/2000/svg" width="${ch.width}" height="${ch.height}" viewBox="0 0 ${ch.width} ${ch.height}" role="img" aria-label="Global divergence index over time">${ch.svg}</svg>
<figcaption>Each dot is a date on which stance codings changed the index; the table lists them.</figcaption>
</figure>
<table>
<thead><tr><th>From</th><th class="num">Index</th><th class="num">Dispersion</th><th>Caused by</th></tr></thead>
<tbody>
${changes.map((p) => `<tr><td>${esc(p.validFrom)}</td><td class="num">${f3(p.value)}</td><td class="num">${f3(p.dispersion)}</td><td>${p.causedBy.map((id) => esc(causeText(r.log, id))).join('<br>')}</td></tr>`).join('\n')}
</tbody>
</table>
<h2>Coverage by dimension</h2>
<table>
<thead><tr><th>Dimension</th><th class="num">Jurisdictions coded</th></tr></thead>
<tbody>
${Object.entries(d.coverage).map(([dim, share]) => `<tr><td>${esc(label(dim))}</td><td class="num">${Math.round(share * 100)}%</td></tr>`).join('\n')}
</tbody>
</table>
<footer>Valid time ${esc(r.asOf)}; known time ${esc(r.knownAt ?? 'everything known when generated')}. Jurisdictions: ${esc(d.jurisdictions.join(', '))}. This file is self-contained: no scripts and no external resources.</footer>
</body>
</html>
`;
}
