import { isIsoDate, todayIso } from './format.js';

export const TABS = ['timeline', 'divergence', 'series', 'gap', 'alerts'] as const;
export type Tab = (typeof TABS)[number];

export interface State {
  /** Valid time: the world as it stood on this date. */
  readonly asOf: string;
  /** Known time: what could be known on this date; null = everything known now. */
  readonly knownAt: string | null;
  /** Null = every jurisdiction the API knows. */
  readonly jurisdictions: readonly string[] | null;
  /** '' = every codebook dimension (the composite index). */
  readonly dimension: string;
  readonly variant: 'all' | 'de_jure';
  readonly weights: 'codebook' | 'equal';
  /** The pair drawn beside the global index (chosen from the heatmap or the series view). */
  readonly pair: readonly [string, string] | null;
  readonly gapFrom: string;
  readonly gapTo: string;
  readonly tab: Tab;
}

export type Listener = (s: State, changed: ReadonlySet<keyof State>) => void;

const listeners: Listener[] = [];
let known: string[] = [];
const knownListeners: ((j: readonly string[]) => void)[] = [];

function fromUrl(): State {
  const q = new URLSearchParams(location.search);
  const date = (k: string): string | null => {
    const v = q.get(k);
    return v && isIsoDate(v) ? v : null;
  };
  const list = (k: string): string[] | null => {
    const v = q.get(k);
    return v ? v.split(',').filter((x) => /^[A-Z][A-Z0-9-]{1,15}$/.test(x)) : null;
  };
  const pair = list('pair');
  const tab = q.get('tab');
  return {
    asOf: date('asOf') ?? todayIso(),
    knownAt: date('knownAt'),
    jurisdictions: list('j'),
    dimension: /^[a-z][a-z0-9_]*$/.test(q.get('dim') ?? '') ? (q.get('dim') as string) : '',
    variant: q.get('variant') === 'de_jure' ? 'de_jure' : 'all',
    weights: q.get('weights') === 'equal' ? 'equal' : 'codebook',
    pair: pair && pair.length === 2 ? [pair[0] as string, pair[1] as string] : null,
    gapFrom: list('from')?.[0] ?? 'US',
    gapTo: list('to')?.[0] ?? 'EU',
    tab: (TABS as readonly string[]).includes(tab ?? '') ? (tab as Tab) : 'timeline',
  };
}

let state: State = fromUrl();

function toUrl(s: State): void {
  const q = new URLSearchParams();
  q.set('asOf', s.asOf);
  if (s.knownAt) q.set('knownAt', s.knownAt);
  if (s.jurisdictions) q.set('j', s.jurisdictions.join(','));
  if (s.dimension) q.set('dim', s.dimension);
  if (s.variant !== 'all') q.set('variant', s.variant);
  if (s.weights !== 'codebook') q.set('weights', s.weights);
  if (s.pair) q.set('pair', s.pair.join(','));
  q.set('from', s.gapFrom);
  q.set('to', s.gapTo);
  q.set('tab', s.tab);
  history.replaceState(null, '', `${location.pathname}?${q.toString()}${location.hash}`);
}

export function getState(): State {
  return state;
}

export function update(patch: Partial<State>): void {
  const changed = new Set<keyof State>();
  for (const k of Object.keys(patch) as (keyof State)[]) {
    if (JSON.stringify(patch[k]) !== JSON.stringify(state[k])) changed.add(k);
  }
  if (changed.size === 0) return;
  state = { ...state, ...patch };
  toUrl(state);
  for (const l of listeners) l(state, changed);
}

export function onChange(l: Listener): void {
  listeners.push(l);
}

/** Jurisdictions seen in any response, for the selectors. */
export function knownJurisdictions(): readonly string[] {
  return known;
}

export function learnJurisdictions(js: readonly string[]): void {
  const next = [...new Set([...known, ...js])].sort(jurisdictionOrder);
  if (next.length === known.length) return;
  known = next;
  for (const l of knownListeners) l(known);
}

export function onJurisdictions(l: (j: readonly string[]) => void): void {
  knownListeners.push(l);
}

/** National and regional regimes first, international references last. */
export function jurisdictionOrder(a: string, b: string): number {
  const ia = a.startsWith('INTL-') ? 1 : 0;
  const ib = b.startsWith('INTL-') ? 1 : 0;
  return ia - ib || a.localeCompare(b);
}

/** The common query of every view. */
export function timeParams(s: State = state): { asOf: string; knownAt: string | null } {
  return { asOf: s.asOf, knownAt: s.knownAt };
}

toUrl(state);
