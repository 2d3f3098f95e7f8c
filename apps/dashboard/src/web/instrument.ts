import { api, type Citation, errorText, type InstrumentResponse } from './api.js';
import { $, h, link, replace, setStatus } from './dom.js';
import { day, humanType } from './format.js';
import { getState } from './state.js';

let opener: Element | null = null;

function citation(c: Citation | null | undefined): HTMLElement {
  if (!c) return h('span', { className: 'muted' }, 'no citation');
  return h(
    'span',
    { className: 'citation' },
    link(c.url),
    c.pinpoint ? ` — ${c.pinpoint}` : '',
    c.tier ? h('span', { className: `badge badge-${c.tier}` }, c.tier) : null,
    c.lastVerifiedAt ? h('span', { className: 'muted' }, ` verified ${c.lastVerifiedAt}`) : null,
  );
}

function dialog(): HTMLDialogElement {
  const d = $('instrument-dialog');
  if (!(d instanceof HTMLDialogElement)) throw new Error('#instrument-dialog is not a dialog');
  return d;
}

/** The instrument panel: identity, citations, milestones and when each provision applies. */
export async function openInstrument(id: string): Promise<void> {
  const d = dialog();
  opener = document.activeElement;
  const body = $('instrument-body');
  $('instrument-title').textContent = id;
  replace(body, h('p', { id: 'instrument-status' }));
  setStatus($('instrument-status'), 'loading', 'Loading the instrument…');
  if (!d.open) d.showModal();
  const s = getState();
  try {
    const r = await api<InstrumentResponse>(`/v1/instruments/${encodeURIComponent(id)}`, { asOf: s.asOf, knownAt: s.knownAt });
    const i = r.instrument;
    $('instrument-title').textContent = i.titles.en;
    const ids = Object.entries(i.identifiers ?? {});
    replace(
      body,
      h(
        'dl',
        { className: 'facts' },
        h('dt', {}, 'Jurisdiction'),
        h('dd', {}, i.jurisdiction),
        h('dt', {}, 'Kind'),
        h('dd', {}, `${i.kind.replace(/_/g, ' ')} (${i.legalForce})`),
        h('dt', {}, 'Issued by'),
        h('dd', {}, i.issuingBody),
        i.status ? [h('dt', {}, 'Status'), h('dd', {}, humanType(i.status), i.statusSince ? ` since ${day(i.statusSince)}` : '')] : null,
        i.titles.original && i.titles.original !== i.titles.en ? [h('dt', {}, `Title (${i.titles.originalLang ?? 'original'})`), h('dd', { lang: i.titles.originalLang ?? '' }, i.titles.original)] : null,
        h('dt', {}, 'Source'),
        h('dd', {}, citation(i.citation)),
        ids.length ? [h('dt', {}, 'Identifiers'), h('dd', {}, h('ul', { className: 'plain' }, ids.map(([k, v]) => h('li', {}, `${k}: `, /^https?:\/\//.test(v) ? link(v) : v))))] : null,
      ),
      h('h3', {}, 'Milestones'),
      r.milestones.length === 0
        ? h('p', { className: 'status status-empty' }, 'No milestones known at this date.')
        : h(
            'table',
            { className: 'data' },
            h('caption', { className: 'sr-only' }, `Milestones of ${i.titles.en}`),
            h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Valid'), h('th', { scope: 'col' }, 'Known'), h('th', { scope: 'col' }, 'Milestone'), h('th', { scope: 'col' }, 'Citation'))),
            h(
              'tbody',
              {},
              [...r.milestones]
                .sort((a, b) => a.validTime.localeCompare(b.validTime))
                .map((m) =>
                  h(
                    'tr',
                    { className: m.future ? 'future' : '' },
                    h('td', {}, day(m.validTime), m.future ? h('span', { className: 'badge badge-future' }, 'future') : null),
                    h('td', {}, day(m.knownTime)),
                    h('td', {}, h('strong', {}, humanType(m.type)), m.provision ? ` — ${m.provision}` : '', m.summary ? h('div', { className: 'summary' }, m.summary) : null),
                    h('td', {}, citation(m.citation)),
                  ),
                ),
            ),
          ),
      r.applicability && r.applicability.length
        ? [
            h('h3', {}, 'When provisions apply'),
            h(
              'table',
              { className: 'data' },
              h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Provision'), h('th', { scope: 'col' }, 'Applies from'), h('th', { scope: 'col' }, 'History'))),
              h(
                'tbody',
                {},
                r.applicability.map((a) =>
                  h(
                    'tr',
                    {},
                    h('td', {}, a.provision),
                    h('td', {}, day(a.appliesFrom)),
                    h('td', {}, (a.history ?? []).map((st) => `${humanType(st.type)} ${day(st.date)}`).join(' → ')),
                  ),
                ),
              ),
            ),
          ]
        : null,
    );
  } catch (e) {
    setStatus($('instrument-status'), 'error', `Could not load ${id}: ${errorText(e)}`);
  }
}

export function initInstrumentDialog(): void {
  const d = dialog();
  $('instrument-close').addEventListener('click', () => d.close());
  d.addEventListener('close', () => {
    if (opener instanceof HTMLElement) opener.focus();
    opener = null;
  });
  // A click on the backdrop closes the panel too.
  d.addEventListener('click', (ev) => {
    if (ev.target === d) d.close();
  });
}
