/** The read API, as the dashboard uses it; every call carries the key the user gave. */

export interface Freshness {
  readonly position: string | number | null;
  readonly updatedAt: string | null;
}

export interface Citation {
  readonly url: string;
  readonly pinpoint?: string;
  readonly tier?: string;
  readonly retrievedAt?: string;
  readonly lastVerifiedAt?: string;
}

export interface Milestone {
  readonly eventId: string;
  readonly instrumentId: string;
  readonly instrumentTitle?: string | null;
  readonly type: string;
  readonly validTime: string;
  readonly knownTime: string;
  readonly provision?: string;
  readonly summary?: string;
  readonly future: boolean;
  readonly citation?: Citation | null;
}

export interface TimelineResponse {
  readonly asOf: string;
  readonly knownAt: string | null;
  readonly freshness?: Freshness;
  readonly lanes: readonly { readonly jurisdiction: string; readonly milestones: readonly Milestone[] }[];
  /** True when the API cut the list short. */
  readonly truncated?: boolean;
}

export interface InstrumentResponse {
  readonly instrument: {
    readonly id: string;
    readonly jurisdiction: string;
    readonly kind: string;
    readonly legalForce: string;
    readonly issuingBody: string;
    readonly titles: { readonly en: string; readonly original?: string; readonly originalLang?: string };
    readonly identifiers?: Record<string, string>;
    readonly status?: string;
    readonly statusSince?: string | null;
    readonly citation?: Citation | null;
  };
  readonly milestones: readonly Milestone[];
  readonly applicability?: readonly { readonly provision: string; readonly appliesFrom: string; readonly history?: readonly { readonly type: string; readonly date: string; readonly knownAt?: string }[] }[];
  readonly freshness?: Freshness;
}

export interface PairResult {
  readonly a: string;
  readonly b: string;
  readonly value: number | null;
  readonly band?: readonly [number, number] | null;
  readonly coverage: { readonly covered: readonly string[]; readonly missing: readonly string[]; readonly weightShare: number };
}

export interface DivergenceResponse {
  readonly asOf: string;
  readonly knownAt: string | null;
  readonly codebookVersion: string;
  readonly methodologyVersion: string;
  readonly jurisdictions: readonly string[];
  readonly pairs: readonly PairResult[];
  readonly global: { readonly value: number | null; readonly dispersion: number | null; readonly pairs: number; readonly meanCoverage: number };
  readonly coverage?: Record<string, number>;
  /** Each jurisdiction's distance to the codebook's reference regime (the OECD AI Principles). */
  readonly reference?: readonly { readonly jurisdiction: string; readonly value: number | null }[];
  readonly freshness?: Freshness;
}

export interface SeriesPoint {
  readonly validFrom: string;
  readonly value: number | null;
  readonly dispersion?: number | null;
  readonly causedBy?: readonly string[];
}

export interface SeriesResponse {
  readonly points: readonly SeriesPoint[];
  readonly codebookVersion?: string;
  readonly methodologyVersion?: string;
}

export type StanceValue = number | string | readonly string[];

export interface GapResponse {
  readonly from: string;
  readonly to: string;
  readonly items: readonly { readonly dimension: string; readonly from: StanceValue; readonly to: StanceValue; readonly owed: number; readonly additionalAreas?: readonly string[] }[];
  readonly score: number | null;
  readonly differentInKind: readonly string[];
  readonly missing: readonly string[];
  readonly codebookVersion: string;
}

export type Rule =
  | { readonly kind: 'event' }
  | { readonly kind: 'divergence'; readonly scope: string; readonly a?: string; readonly b?: string; readonly dimension?: string; readonly crosses?: number; readonly movesBy?: number }
  | { readonly kind: 'deadline'; readonly daysBefore: number };

export type Channel = { readonly kind: 'webhook'; readonly url: string } | { readonly kind: 'sse' } | { readonly kind: 'digest'; readonly url: string };

export interface SubscriptionInput {
  readonly name: string;
  readonly filters: { readonly jurisdictions?: string[]; readonly instruments?: string[]; readonly eventTypes?: string[]; readonly dimensions?: string[] };
  readonly rule: Rule;
  readonly channel: Channel;
}

export interface Subscription extends SubscriptionInput {
  readonly id: string;
  readonly createdAt?: string;
  readonly active?: boolean;
}

export interface StoredEventJson {
  readonly id: string;
  readonly type: string;
  readonly subject: string;
  readonly validtime: string;
  readonly knowntime: string;
  readonly time?: string;
  readonly position?: string;
  readonly data: Record<string, unknown>;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail?: string,
  ) {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiError';
  }
}

const KEY = 'regstream.apiKey';

export function getKey(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
}

export type Params = Record<string, string | number | readonly string[] | null | undefined>;

export function query(params: Params = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === '') continue;
    q.set(k, Array.isArray(v) ? v.join(',') : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

async function problem(res: Response): Promise<ApiError> {
  let title = res.statusText || `HTTP ${res.status}`;
  let detail: string | undefined;
  try {
    const body = (await res.json()) as { title?: unknown; detail?: unknown; errors?: { path: string; message: string }[] };
    if (typeof body.title === 'string') title = body.title;
    if (typeof body.detail === 'string') detail = body.detail;
    if (Array.isArray(body.errors) && body.errors.length) detail = body.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  } catch {
    /* not JSON */
  }
  if (res.status === 401) detail = detail ?? 'enter a valid API key';
  if (res.status === 404 && !detail) detail = 'this endpoint is not available on this server';
  return new ApiError(res.status, title, detail);
}

export async function api<T>(path: string, params: Params = {}, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  headers.set('Accept', 'application/json');
  const key = getKey();
  if (key) headers.set('Authorization', `Bearer ${key}`);
  if (init.body !== undefined && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
  const res = await fetch(`${path}${query(params)}`, { ...init, headers });
  if (!res.ok) throw await problem(res);
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
