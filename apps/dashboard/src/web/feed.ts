import { getKey, type StoredEventJson } from './api.js';
import { $, h } from './dom.js';
import { day, humanType } from './format.js';
import { rememberEvent } from './events.js';

const MAX = 60;
let source: EventSource | null = null;

function setLive(state: 'off' | 'connecting' | 'live' | 'retrying', text: string): void {
  const el = $('feed-state');
  el.className = `live live-${state}`;
  el.textContent = text;
}

function describe(e: StoredEventJson): string {
  const d = e.data;
  if (e.type === 'StanceCoded') return `${String(d['jurisdiction'])} · ${String(d['dimension'])}`;
  if (typeof d['instrumentId'] === 'string') return d['instrumentId'];
  return e.subject;
}

function add(e: StoredEventJson): void {
  rememberEvent(e);
  const list = $('feed-list');
  $('feed-empty').hidden = true;
  list.insertBefore(
    h(
      'li',
      { className: 'feed-item', 'data-type': e.type },
      h('span', { className: 'feed-type' }, humanType(e.type)),
      h('span', { className: 'feed-what' }, describe(e)),
      h('span', { className: 'feed-when' }, `valid ${day(e.validtime)} · known ${day(e.knowntime)}`),
    ),
    list.firstChild,
  );
  while (list.childElementCount > MAX) list.lastElementChild?.remove();
}

/** The live feed: every appended event, and a nudge when divergence moves. */
export function startFeed(onDivergence: () => void): void {
  source?.close();
  source = null;
  const key = getKey();
  if (!key) {
    setLive('off', 'Enter an API key to follow live events');
    return;
  }
  if (typeof EventSource === 'undefined') {
    setLive('off', 'This browser cannot follow live events');
    return;
  }
  setLive('connecting', 'Connecting…');
  const es = new EventSource(`/v1/stream?api_key=${encodeURIComponent(key)}`);
  source = es;
  es.addEventListener('open', () => setLive('live', 'Live'));
  es.addEventListener('error', () => setLive(es.readyState === EventSource.CLOSED ? 'off' : 'retrying', es.readyState === EventSource.CLOSED ? 'Disconnected' : 'Reconnecting…'));
  es.addEventListener('regstream.event', (ev) => {
    try {
      add(JSON.parse((ev as MessageEvent<string>).data) as StoredEventJson);
    } catch {
      /* not an event */
    }
  });
  es.addEventListener('divergence.changed', () => {
    const note = $('feed-divergence');
    note.hidden = false;
    note.textContent = `Divergence changed at ${new Date().toLocaleTimeString()}; the views are refreshed.`;
    onDivergence();
  });
}

export function stopFeed(): void {
  source?.close();
  source = null;
}
