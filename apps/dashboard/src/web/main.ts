import { getKey, setKey } from './api.js';
import { $, $input, $select, h, replace } from './dom.js';
import { daysToIso, isIsoDate, isoToDays, todayIso } from './format.js';
import { currentMeta, loadMeta } from './meta.js';
import { getState, knownJurisdictions, onChange, onJurisdictions, type State, type Tab, TABS, update } from './state.js';
import { fillAlertOptions, initAlerts, loadAlerts } from './alerts.js';
import { loadDivergence } from './divergence.js';
import { startFeed } from './feed.js';
import { initGapControls, loadGap } from './gap.js';
import { initInstrumentDialog } from './instrument.js';
import { initSeriesControls, loadSeries } from './series.js';
import { loadTimeline } from './timeline.js';

const SLIDER_MIN = '2015-01-01';
const sliderMax = (): string => `${new Date().getUTCFullYear() + 4}-12-31`;

const loaders: Record<Tab, (s: State) => Promise<void>> = {
  timeline: loadTimeline,
  divergence: loadDivergence,
  series: loadSeries,
  gap: loadGap,
  alerts: () => loadAlerts(),
};

/** Views whose data no longer matches the controls; each reloads when it is next shown. */
const stale = new Set<Tab>(TABS);

function reloadActive(): void {
  const s = getState();
  if (!getKey()) return;
  stale.delete(s.tab);
  void loaders[s.tab](s);
}

function invalidate(tabs: readonly Tab[]): void {
  for (const t of tabs) stale.add(t);
  if (stale.has(getState().tab)) reloadActive();
}

// ---------- tabs (WAI-ARIA tabs pattern: arrow keys, Home, End) ----------

function showTab(tab: Tab, focus = false): void {
  for (const t of TABS) {
    const btn = $(`tab-${t}`);
    const on = t === tab;
    btn.setAttribute('aria-selected', String(on));
    btn.tabIndex = on ? 0 : -1;
    $(`panel-${t}`).hidden = !on;
    if (on && focus) btn.focus();
  }
}

function initTabs(): void {
  const tabs = [...TABS];
  for (const t of tabs) {
    const btn = $(`tab-${t}`);
    btn.addEventListener('click', () => update({ tab: t }));
    btn.addEventListener('keydown', (ev) => {
      const i = tabs.indexOf(t);
      const next = ev.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length] : ev.key === 'ArrowLeft' ? tabs[(i - 1 + tabs.length) % tabs.length] : ev.key === 'Home' ? tabs[0] : ev.key === 'End' ? tabs[tabs.length - 1] : undefined;
      if (next) {
        ev.preventDefault();
        update({ tab: next });
        showTab(next, true);
      }
    });
  }
  showTab(getState().tab);
}

// ---------- as-of slider, as-of date, known-at date ----------

function initTimeControls(): void {
  const slider = $input('asof-slider');
  const date = $input('asof-date');
  const known = $input('knownat');
  slider.min = String(isoToDays(SLIDER_MIN));
  slider.max = String(isoToDays(sliderMax()));
  slider.step = '1';
  date.min = SLIDER_MIN;
  date.max = sliderMax();
  known.max = todayIso();
  const show = (iso: string) => {
    slider.value = String(isoToDays(iso));
    slider.setAttribute('aria-valuetext', iso);
    date.value = iso;
    $('asof-label').textContent = iso;
  };
  show(getState().asOf);
  known.value = getState().knownAt ?? '';

  let timer: number | undefined;
  slider.addEventListener('input', () => {
    const iso = daysToIso(Number(slider.value));
    slider.setAttribute('aria-valuetext', iso);
    date.value = iso;
    $('asof-label').textContent = iso;
    window.clearTimeout(timer);
    timer = window.setTimeout(() => update({ asOf: iso }), 250);
  });
  slider.addEventListener('change', () => {
    window.clearTimeout(timer);
    update({ asOf: daysToIso(Number(slider.value)) });
  });
  date.addEventListener('change', () => {
    if (isIsoDate(date.value)) update({ asOf: date.value });
  });
  $('asof-today').addEventListener('click', () => update({ asOf: todayIso() }));
  known.addEventListener('change', () => update({ knownAt: isIsoDate(known.value) ? known.value : null }));
  $('knownat-clear').addEventListener('click', () => update({ knownAt: null }));
  onChange((s, changed) => {
    if (changed.has('asOf')) show(s.asOf);
    if (changed.has('knownAt')) known.value = s.knownAt ?? '';
  });
}

// ---------- jurisdictions ----------

function renderJurisdictions(all: readonly string[]): void {
  const chosen = getState().jurisdictions;
  replace(
    $('jurisdictions'),
    all.map((j) =>
      h(
        'label',
        { className: 'chip' },
        h('input', {
          type: 'checkbox',
          value: j,
          checked: !chosen || chosen.includes(j),
          onchange: () => {
            const checked = [...document.querySelectorAll<HTMLInputElement>('#jurisdictions input:checked')].map((i) => i.value);
            update({ jurisdictions: checked.length === all.length ? null : checked });
          },
        }),
        ` ${j}`,
      ),
    ),
  );
  if (all.length === 0) replace($('jurisdictions'), h('span', { className: 'muted' }, 'loaded with the first view'));
  fillAlertOptions();
}

// ---------- divergence options ----------

function initDivergenceControls(): void {
  const dim = $select('dimension');
  const meta = currentMeta();
  replace(dim, h('option', { value: '' }, 'All dimensions (composite index)'), (meta?.codebook.dimensions ?? []).map((d) => h('option', { value: d.id }, d.label)));
  const s = getState();
  dim.value = s.dimension;
  $select('variant').value = s.variant;
  $select('weights').value = s.weights;
  dim.addEventListener('change', () => update({ dimension: dim.value }));
  $select('variant').addEventListener('change', (ev) => update({ variant: (ev.target as HTMLSelectElement).value === 'de_jure' ? 'de_jure' : 'all' }));
  $select('weights').addEventListener('change', (ev) => update({ weights: (ev.target as HTMLSelectElement).value === 'equal' ? 'equal' : 'codebook' }));
  onChange((st, changed) => {
    if (changed.has('dimension')) dim.value = st.dimension;
  });
}

// ---------- API key ----------

function initLogin(): void {
  // A link may carry the key in the fragment (never sent to the server); keep it for this tab only.
  const m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (m?.[1]) {
    setKey(decodeURIComponent(m[1]));
    history.replaceState(null, '', `${location.pathname}${location.search}`);
  }
  const input = $input('api-key');
  const form = $('login') as HTMLFormElement;
  const sync = () => {
    const has = Boolean(getKey());
    document.body.classList.toggle('no-key', !has);
    $('key-state').textContent = has ? 'Key set for this tab' : 'No key';
    $('need-key').hidden = has;
  };
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    setKey(key);
    input.value = '';
    sync();
    for (const t of TABS) stale.add(t);
    startFeed(onDivergenceChanged);
    reloadActive();
  });
  $('logout').addEventListener('click', () => {
    setKey(null);
    sync();
    startFeed(onDivergenceChanged);
  });
  sync();
}

let divergenceTimer: number | undefined;
function onDivergenceChanged(): void {
  window.clearTimeout(divergenceTimer);
  divergenceTimer = window.setTimeout(() => invalidate(['divergence', 'series', 'gap', 'timeline']), 500);
}

async function main(): Promise<void> {
  try {
    await loadMeta();
  } catch (e) {
    $('need-key').textContent = e instanceof Error ? e.message : String(e);
  }
  initLogin();
  initTabs();
  initTimeControls();
  initDivergenceControls();
  initSeriesControls();
  initGapControls();
  initAlerts();
  initInstrumentDialog();
  onJurisdictions(renderJurisdictions);
  renderJurisdictions(knownJurisdictions());
  onChange((s, changed) => {
    const affected: Tab[] = [];
    if (changed.has('asOf') || changed.has('knownAt') || changed.has('jurisdictions')) affected.push('timeline', 'divergence', 'series', 'gap');
    if (changed.has('dimension') || changed.has('variant') || changed.has('weights')) affected.push('divergence', 'series');
    if (changed.has('pair')) affected.push('series');
    if (changed.has('gapFrom') || changed.has('gapTo')) affected.push('gap');
    for (const t of affected) stale.add(t);
    if (changed.has('tab')) showTab(s.tab);
    if (stale.has(s.tab)) reloadActive();
  });
  startFeed(onDivergenceChanged);
  reloadActive();
  document.body.dataset['ready'] = 'true';
}

void main();
