import { api, ApiError, errorText, type Rule, type Channel, type Subscription, type SubscriptionInput } from './api.js';
import { $, $input, $select, h, replace, setStatus } from './dom.js';
import { dimensionLabel, humanType } from './format.js';
import { currentMeta } from './meta.js';
import { knownJurisdictions } from './state.js';

function list(v: string): string[] | undefined {
  const items = v.split(',').map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

function selected(sel: HTMLSelectElement): string[] | undefined {
  const v = [...sel.selectedOptions].map((o) => o.value).filter(Boolean);
  return v.length ? v : undefined;
}

function asList(body: unknown): Subscription[] {
  if (Array.isArray(body)) return body as Subscription[];
  if (body && typeof body === 'object') {
    for (const k of ['subscriptions', 'items', 'data']) {
      const v = (body as Record<string, unknown>)[k];
      if (Array.isArray(v)) return v as Subscription[];
    }
  }
  return [];
}

function ruleText(r: Rule | undefined): string {
  if (!r) return '—';
  switch (r.kind) {
    case 'event':
      return 'every matching event';
    case 'deadline':
      return `${r.daysBefore} day(s) before a provision applies`;
    case 'divergence': {
      const scope = r.a && r.b ? `${r.a} ↔ ${r.b}` : r.scope;
      const dim = r.dimension ? ` on ${dimensionLabel(currentMeta(), r.dimension)}` : '';
      const cond = [r.crosses !== undefined ? `crosses ${r.crosses}` : '', r.movesBy !== undefined ? `moves by ${r.movesBy}` : ''].filter(Boolean).join(' or ');
      return `divergence ${scope}${dim}${cond ? ` ${cond}` : ''}`;
    }
    default:
      return 'unknown rule';
  }
}

function channelText(c: Channel | undefined): string {
  if (!c) return '—';
  return c.kind === 'sse' ? 'live stream (SSE)' : `${c.kind} → ${c.url}`;
}

function filtersText(f: Subscription['filters'] | undefined): string {
  if (!f) return 'everything';
  const parts = [
    f.jurisdictions?.length ? `jurisdictions ${f.jurisdictions.join(', ')}` : '',
    f.instruments?.length ? `instruments ${f.instruments.join(', ')}` : '',
    f.eventTypes?.length ? `events ${f.eventTypes.map(humanType).join(', ')}` : '',
    f.dimensions?.length ? `dimensions ${f.dimensions.map((d) => dimensionLabel(currentMeta(), d)).join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'everything';
}

function explain(e: unknown): string {
  if (e instanceof ApiError && e.status === 403) return 'This API key may not manage alerts: use a key with the subscriptions:manage scope (the admin key has it).';
  return errorText(e);
}

/** Alert subscriptions: list, create, delete. */
export async function loadAlerts(): Promise<void> {
  const status = $('alerts-status');
  setStatus(status, 'loading', 'Loading subscriptions…');
  try {
    const subs = asList(await api<unknown>('/v1/subscriptions'));
    renderList(subs);
    if (subs.length === 0) setStatus(status, 'empty', 'No subscriptions yet. Create one below.');
    else setStatus(status, 'none', `${subs.length} subscription(s).`);
  } catch (e) {
    renderList([]);
    setStatus(status, 'error', `Could not load subscriptions: ${explain(e)}`);
  }
}

function renderList(subs: readonly Subscription[]): void {
  replace(
    $('alerts-list'),
    subs.length === 0
      ? null
      : h(
          'table',
          { className: 'data', id: 'subscriptions-table' },
          h('caption', {}, 'Your alert subscriptions'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'For'), h('th', { scope: 'col' }, 'Delivered to'), h('th', { scope: 'col' }, h('span', { className: 'sr-only' }, 'Actions')))),
          h(
            'tbody',
            {},
            subs.map((s) =>
              h(
                'tr',
                { 'data-subscription-id': s.id },
                h('th', { scope: 'row' }, s.name),
                h('td', {}, ruleText(s.rule)),
                h('td', {}, filtersText(s.filters)),
                h('td', { className: 'wrap' }, channelText(s.channel)),
                h('td', {}, h('button', { type: 'button', className: 'danger', 'aria-label': `Delete subscription ${s.name}`, onclick: () => void remove(s) }, 'Delete')),
              ),
            ),
          ),
        ),
  );
}

async function remove(s: Subscription): Promise<void> {
  if (!window.confirm(`Delete the subscription “${s.name}”?`)) return;
  const status = $('alerts-status');
  try {
    await api<unknown>(`/v1/subscriptions/${encodeURIComponent(s.id)}`, {}, { method: 'DELETE' });
    await loadAlerts();
    setStatus(status, 'none', `Deleted “${s.name}”.`);
  } catch (e) {
    setStatus(status, 'error', `Could not delete: ${explain(e)}`);
  }
}

function readForm(): SubscriptionInput {
  const name = $input('sub-name').value.trim();
  const ruleKind = $select('sub-rule').value;
  const numberOf = (id: string): number | undefined => {
    const v = $input(id).value.trim();
    return v === '' ? undefined : Number(v);
  };
  let rule: Rule;
  if (ruleKind === 'divergence') {
    const a = $select('sub-a').value;
    const b = $select('sub-b').value;
    const dimension = $select('sub-dimension').value;
    const crosses = numberOf('sub-crosses');
    const movesBy = numberOf('sub-moves');
    rule = {
      kind: 'divergence',
      scope: a && b ? 'pair' : dimension ? 'dimension' : 'global',
      ...(a && b ? { a, b } : {}),
      ...(dimension ? { dimension } : {}),
      ...(crosses !== undefined ? { crosses } : {}),
      ...(movesBy !== undefined ? { movesBy } : {}),
    };
  } else if (ruleKind === 'deadline') {
    rule = { kind: 'deadline', daysBefore: numberOf('sub-days') ?? 30 };
  } else {
    rule = { kind: 'event' };
  }
  const channelKind = $select('sub-channel').value;
  const url = $input('sub-url').value.trim();
  const channel: Channel = channelKind === 'webhook' ? { kind: 'webhook', url } : channelKind === 'digest' ? { kind: 'digest', url } : { kind: 'sse' };
  const filters = {
    ...(selected($select('sub-jurisdictions')) ? { jurisdictions: selected($select('sub-jurisdictions')) } : {}),
    ...(list($input('sub-instruments').value) ? { instruments: list($input('sub-instruments').value) } : {}),
    ...(selected($select('sub-types')) ? { eventTypes: selected($select('sub-types')) } : {}),
    ...(selected($select('sub-dimensions')) ? { dimensions: selected($select('sub-dimensions')) } : {}),
  };
  return { name, filters, rule, channel };
}

function syncForm(): void {
  const rule = $select('sub-rule').value;
  $('sub-divergence-fields').hidden = rule !== 'divergence';
  $('sub-deadline-fields').hidden = rule !== 'deadline';
  const channel = $select('sub-channel').value;
  const url = $input('sub-url');
  $('sub-url-field').hidden = channel === 'sse';
  url.required = channel !== 'sse';
}

export function fillAlertOptions(): void {
  const meta = currentMeta();
  const js = knownJurisdictions();
  for (const id of ['sub-jurisdictions', 'sub-a', 'sub-b']) {
    const sel = $select(id);
    const keep = new Set([...sel.selectedOptions].map((o) => o.value));
    replace(sel, id === 'sub-jurisdictions' ? null : h('option', { value: '' }, '—'), js.map((j) => h('option', { value: j, selected: keep.has(j) }, j)));
  }
  if (meta) {
    const dims = meta.codebook.dimensions.map((d) => h('option', { value: d.id }, d.label));
    replace($select('sub-dimensions'), dims);
    replace($select('sub-dimension'), h('option', { value: '' }, 'All dimensions'), meta.codebook.dimensions.map((d) => h('option', { value: d.id }, d.label)));
    replace($select('sub-types'), meta.eventTypes.map((t) => h('option', { value: t }, humanType(t))));
  }
}

export function initAlerts(): void {
  $select('sub-rule').addEventListener('change', syncForm);
  $select('sub-channel').addEventListener('change', syncForm);
  syncForm();
  const form = $('sub-form') as HTMLFormElement;
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void (async () => {
      const status = $('sub-form-status');
      if (!form.reportValidity()) return;
      const body = readForm();
      setStatus(status, 'loading', 'Creating…');
      try {
        const created = await api<Subscription | undefined>('/v1/subscriptions', {}, { method: 'POST', body: JSON.stringify(body) });
        const secret = body.channel.kind === 'sse' ? undefined : Object.values(created ?? {}).find((v): v is string => typeof v === 'string' && v.startsWith('whsec_'));
        setStatus(status, 'none', `Created “${created?.name ?? body.name}”.${secret ? ` Its webhook signing secret, shown only now: ${secret}` : ''}`);
        form.reset();
        syncForm();
        await loadAlerts();
      } catch (e) {
        setStatus(status, 'error', `Could not create the subscription: ${explain(e)}`);
      }
    })();
  });
}
