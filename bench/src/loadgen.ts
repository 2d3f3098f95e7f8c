import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { Recorder, type Summary } from './stats';

/** One prepared request; bodies are serialised before the clock starts. */
export interface LoadRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
  /** Events this request carries (1 for a single append, 100 for a batch, 0 for a query). */
  readonly events?: number;
}

export interface LoadOptions {
  /** http://host:port */
  readonly baseUrl: string;
  readonly concurrency: number;
  /** Stop after this long (the run also stops when every worker's source is exhausted). */
  readonly durationMs: number;
  /** Requests sent and not timed first (JIT, pools, caches), per worker. */
  readonly warmupRequests?: number;
  /** The next request of worker `w`, or null when that worker has nothing left (may wait for one). */
  next(worker: number): LoadRequest | null | Promise<LoadRequest | null>;
  /** Statuses that count as success (default 2xx). */
  readonly ok?: (status: number) => boolean;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface LoadResult {
  readonly requests: number;
  readonly okRequests: number;
  readonly events: number;
  readonly errors: number;
  readonly statuses: Record<string, number>;
  readonly elapsedMs: number;
  readonly requestsPerSec: number;
  readonly eventsPerSec: number;
  readonly latency: Summary;
  readonly recorder: Recorder;
  /** A sample of failing responses, to say why. */
  readonly failures: string[];
}

export interface Response {
  readonly status: number;
  readonly body: Buffer;
}

/** One request on a keep-alive agent. */
export function send(agent: Agent, baseUrl: string, r: LoadRequest, extraHeaders: Readonly<Record<string, string>> = {}): Promise<Response> {
  const url = new URL(r.path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: r.method,
        headers: {
          ...extraHeaders,
          ...(r.headers ?? {}),
          ...(r.body ? { 'content-type': 'application/json', 'content-length': String(r.body.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (r.body) req.end(r.body);
    else req.end();
  });
}

export function keepAliveAgent(concurrency: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
}

/**
 * Closed-loop load: `concurrency` workers, each sending its next request as soon as the previous one
 * answered, on a keep-alive agent; every latency goes into one recorder.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const agent = keepAliveAgent(opts.concurrency);
  const ok = opts.ok ?? ((s: number) => s >= 200 && s < 300);
  const rec = new Recorder();
  const statuses: Record<string, number> = {};
  const failures: string[] = [];
  let requests = 0;
  let okRequests = 0;
  let events = 0;
  let errors = 0;

  // Warm-up: a few untimed requests per worker.
  const warm = opts.warmupRequests ?? 0;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, w) => {
      for (let i = 0; i < warm; i++) {
        const r = await opts.next(w);
        if (!r) return;
        await send(agent, opts.baseUrl, r, opts.headers).catch(() => undefined);
      }
    }),
  );

  const start = performance.now();
  const deadline = start + opts.durationMs;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, w) => {
      while (performance.now() < deadline) {
        const r = await opts.next(w);
        if (!r) return;
        const t0 = performance.now();
        try {
          const res = await send(agent, opts.baseUrl, r, opts.headers);
          const dt = performance.now() - t0;
          requests += 1;
          statuses[String(res.status)] = (statuses[String(res.status)] ?? 0) + 1;
          if (ok(res.status)) {
            okRequests += 1;
            events += r.events ?? 0;
            rec.record(dt);
          } else {
            errors += 1;
            if (failures.length < 5) failures.push(`${res.status} ${res.body.toString('utf8').slice(0, 300)}`);
          }
        } catch (e) {
          requests += 1;
          errors += 1;
          if (failures.length < 5) failures.push(e instanceof Error ? e.message : String(e));
        }
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  agent.destroy();
  return {
    requests,
    okRequests,
    events,
    errors,
    statuses,
    elapsedMs,
    requestsPerSec: (okRequests * 1000) / elapsedMs,
    eventsPerSec: (events * 1000) / elapsedMs,
    latency: rec.summary(),
    recorder: rec,
    failures,
  };
}

/**
 * Closed-loop load of a library call (no HTTP): `concurrency` async workers calling `op` until the
 * deadline or until their source is exhausted. Used for the raw references and the library-level
 * comparison with Emmett.
 */
export async function runCalls<T>(opts: {
  readonly concurrency: number;
  readonly durationMs: number;
  next(worker: number): T | null | Promise<T | null>;
  op(item: T, worker: number): Promise<number>;
}): Promise<CallsResult> {
  const rec = new Recorder();
  let calls = 0;
  let events = 0;
  let errors = 0;
  const failures: string[] = [];
  const start = performance.now();
  const deadline = start + opts.durationMs;
  await Promise.all(
    Array.from({ length: opts.concurrency }, async (_, w) => {
      while (performance.now() < deadline) {
        const item = await opts.next(w);
        if (item === null) return;
        const t0 = performance.now();
        try {
          // Read-modify-write after the await: `events += await x` would read `events` before awaiting.
          const n = await opts.op(item, w);
          events += n;
          calls += 1;
          rec.record(performance.now() - t0);
        } catch (e) {
          errors += 1;
          if (failures.length < 5) failures.push(e instanceof Error ? e.message : String(e));
        }
      }
    }),
  );
  const elapsedMs = performance.now() - start;
  return { calls, events, errors, elapsedMs, eventsPerSec: (events * 1000) / elapsedMs, callsPerSec: (calls * 1000) / elapsedMs, latency: rec.summary(), recorder: rec, failures };
}

export interface CallsResult {
  readonly calls: number;
  readonly events: number;
  readonly errors: number;
  readonly elapsedMs: number;
  readonly eventsPerSec: number;
  readonly callsPerSec: number;
  readonly latency: Summary;
  readonly recorder: Recorder;
  readonly failures: string[];
}

/** Several rounds of one measurement (interleaved with its reference) as one figure: total events over total time. */
export function combine(parts: readonly { events: number; elapsedMs: number; recorder: Recorder; errors: number }[]): { events: number; elapsedMs: number; eventsPerSec: number; latency: Summary; errors: number } {
  const rec = new Recorder();
  for (const p of parts) rec.merge(p.recorder);
  const events = parts.reduce((a, p) => a + p.events, 0);
  const elapsedMs = parts.reduce((a, p) => a + p.elapsedMs, 0);
  return { events, elapsedMs, eventsPerSec: (events * 1000) / elapsedMs, latency: rec.summary(), errors: parts.reduce((a, p) => a + p.errors, 0) };
}
