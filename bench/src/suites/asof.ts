import { appEnv, type BenchContext } from '../context';
import { JURISDICTIONS } from '../generator';
import { type LoadRequest, runLoad } from '../loadgen';
import { AppProcess, freePort, resetPeak } from '../procs';
import { Rng } from '../rng';
import { type BenchDatabase, issueApiKey } from '../services';

export interface AsOfOutcome {
  readonly size: number;
  readonly p99: { divergence: number; timeline: number };
}

const GROUP = 'read side: as-of queries over HTTP (api process)';
const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** Query mixes: random valid-time instants over the history, some with a known-time cut. */
function queries(seed: number, kind: 'divergence' | 'timeline', n: number): LoadRequest[] {
  const rng = new Rng(seed);
  const start = Date.UTC(2017, 0, 1);
  const end = Date.UTC(2026, 10, 28);
  const coded = JURISDICTIONS.slice(0, 30);
  return Array.from({ length: n }, () => {
    const at = start + Math.floor(rng.next() * (end - start));
    const knownAt = rng.chance(0.3) ? `&knownAt=${iso(at - rng.int(0, 365) * DAY)}` : '';
    if (kind === 'divergence') {
      const set = rng.chance(0.5) ? '' : `&jurisdictions=${[...new Set(Array.from({ length: 6 }, () => rng.pick(coded)))].join(',')}`;
      return { method: 'GET' as const, path: `/v1/divergence?asOf=${iso(at)}${knownAt}${set}` };
    }
    const j = rng.pick(JURISDICTIONS.slice(0, 40));
    // A page of one jurisdiction's milestones in a year around the instant: a bounded answer at any history size.
    return { method: 'GET' as const, path: `/v1/timeline?asOf=${iso(at)}${knownAt}&jurisdictions=${j}&from=${iso(at - 180 * DAY)}&to=${iso(at + 180 * DAY)}&limit=100` };
  });
}

export class ApiHandle {
  private constructor(
    readonly proc: AppProcess,
    readonly base: string,
    readonly key: string,
  ) {}
  static async start(ctx: BenchContext, db: BenchDatabase, topic: string): Promise<ApiHandle> {
    const port = await freePort();
    const proc = await AppProcess.start('api', 'apps/api/dist/main.js', {
      env: appEnv(db.url, port, topic),
      readyUrl: `http://127.0.0.1:${port}/healthz`,
      cpuProf: ctx.cpuProf.has('api'),
      timeoutMs: 120_000,
    });
    const key = await issueApiKey(db);
    return new ApiHandle(proc, `http://127.0.0.1:${port}`, key);
  }
}

/**
 * /v1/divergence and /v1/timeline with as-of (and sometimes known-at) instants drawn over the whole
 * history, 8 concurrent clients on keep-alive connections, beside a plain node:http server answering
 * GETs under the same load generator.
 */
export async function asOfQueries(ctx: BenchContext, api: ApiHandle, size: number, plainBase: string, plainPid: number): Promise<AsOfOutcome> {
  const out: Record<'divergence' | 'timeline', number> = { divergence: NaN, timeline: NaN };
  const auth = { authorization: `Bearer ${api.key}` };
  resetPeak(plainPid);
  const plainReqs = Array.from({ length: 200_000 }, () => ({ method: 'GET' as const, path: '/v1/ping' }));
  let pi = 0;
  const plain = await runLoad({ baseUrl: plainBase, concurrency: 8, durationMs: Math.min(3000, ctx.durationMs), next: () => plainReqs[pi++] ?? null });
  for (const kind of ['divergence', 'timeline'] as const) {
    const reqs = queries(ctx.seed + (kind === 'divergence' ? 300 : 301), kind, 100_000);
    let i = 0;
    api.proc.resetPeak();
    const r = await runLoad({ baseUrl: api.base, concurrency: 8, durationMs: ctx.durationMs, warmupRequests: 5, next: () => reqs[i++] ?? null, headers: auth });
    if (r.errors) ctx.notes.push(`as-of ${kind} at ${size}: ${r.errors} failed requests, e.g. ${r.failures[0] ?? ''}`);
    out[kind] = r.latency.p99;
    ctx.rows.push({
      id: `asof-${kind}-${size}`,
      group: GROUP,
      label: `/v1/${kind} as-of, ${size.toLocaleString('en-US')} events, 8 clients`,
      eventsPerSec: r.requestsPerSec,
      p50: r.latency.p50,
      p99: r.latency.p99,
      rssMb: { api: api.proc.memory().hwmMb },
      ref: { label: 'plain node:http GET, same load', eventsPerSec: plain.requestsPerSec, p50: plain.latency.p50, p99: plain.latency.p99 },
      ratio: r.latency.p99 / plain.latency.p99,
      ratioOf: 'latency',
      target: { text: 'p99 < 20 ms', pass: r.latency.p99 < 20 },
      note: 'events/s column: requests/s; ratio: p99 ÷ reference p99',
      extra: { requests: r.okRequests, errors: r.errors, statuses: r.statuses },
    });
  }
  return { size, p99: out };
}
