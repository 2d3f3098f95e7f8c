import type IORedis from 'ioredis';

export interface RateVerdict {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  readonly retryAfterSeconds: number;
}

export interface RateLimiter {
  take(key: string): Promise<RateVerdict>;
}

/** Fixed one-minute windows. */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(key: string): Promise<RateVerdict> {
    const t = this.now();
    const start = t - (t % 60_000);
    const w = this.windows.get(key);
    const cur = w && w.start === start ? w : { start, count: 0 };
    cur.count += 1;
    this.windows.set(key, cur);
    const allowed = cur.count <= this.perMinute;
    return Promise.resolve({ allowed, limit: this.perMinute, remaining: this.perMinute - cur.count, retryAfterSeconds: Math.max(1, Math.ceil((start + 60_000 - t) / 1000)) });
  }
}

export interface RedisRateLimiterOptions {
  /** How long a lease of tokens should last at the key's recent rate in this process. */
  readonly leaseMs?: number;
}

/** One key's current minute, as this process holds it. */
interface KeyWindow {
  readonly start: number;
  /** The window's count in Redis at the last lease (leased tokens included, used or not). */
  shared: number;
  /** Leased from Redis and not used yet. */
  tokens: number;
  leasing: Promise<void> | null;
  /** Redis had fewer tokens left than asked for: nothing more to lease until the next minute. */
  full: boolean;
}

/** Per key, across windows: takes since the last lease, which size the next one. */
interface Demand {
  takes: number;
  since: number;
}

/**
 * The same one-minute windows in Redis, shared by every instance of every app, without a Redis round trip
 * per request. A process leases tokens from the window's count in Redis (INCRBY), sized to last about
 * `leaseMs` (100 ms) at the key's recent rate here and never more than a quarter of what the window has
 * left, takes requests from them locally, and at a steady rate leases again in the background once half
 * are used. Redis counts every token leased, so all instances together never admit more than the limit;
 * what they can under-admit is the tokens leased and still unused when the minute ends, about `leaseMs` of
 * traffic per instance. Close to the limit, or at a low rate, a lease is one token, i.e. one round trip
 * per request as before, so small limits are exact.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly windows = new Map<string, KeyWindow>();
  private readonly demand = new Map<string, Demand>();
  private readonly leaseMs: number;

  constructor(
    private readonly redis: IORedis,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
    opts: RedisRateLimiterOptions = {},
  ) {
    this.leaseMs = opts.leaseMs ?? 100;
  }

  async take(key: string): Promise<RateVerdict> {
    const t = this.now();
    const start = t - (t % 60_000);
    const retryAfterSeconds = Math.max(1, Math.ceil((start + 60_000 - t) / 1000));
    let w = this.windows.get(key);
    if (!w || w.start !== start) {
      // Tokens leased for the last minute are worth nothing in this one.
      w = { start, shared: 0, tokens: 0, leasing: null, full: false };
      this.windows.set(key, w);
    }
    const d = this.demand.get(key) ?? { takes: 0, since: t };
    this.demand.set(key, d);
    d.takes += 1;
    for (;;) {
      if (w.tokens > 0) {
        w.tokens -= 1;
        // Refill ahead of need, but only at a rate worth more than a token per lease: a token leased ahead
        // of a request that may never come is one another instance cannot have. A failure here only means
        // the next take waits for its own lease.
        const next = this.chunk(key, w);
        if (next > 1 && w.tokens <= next / 2 && !w.leasing && !w.full) this.lease(key, w).catch(() => undefined);
        return { allowed: true, limit: this.perMinute, remaining: this.perMinute - (w.shared - w.tokens), retryAfterSeconds };
      }
      if (w.full) return { allowed: false, limit: this.perMinute, remaining: 0, retryAfterSeconds };
      await (w.leasing ?? this.lease(key, w));
    }
  }

  /** Next lease size: about leaseMs of this key's recent takes here, at most a quarter of what is left. */
  private chunk(key: string, w: KeyWindow): number {
    const d = this.demand.get(key);
    const perMs = d ? d.takes / Math.max(1, this.now() - d.since) : 0;
    const left = this.perMinute - w.shared;
    return Math.max(1, Math.min(Math.ceil(perMs * this.leaseMs), Math.floor(left / 4)));
  }

  private lease(key: string, w: KeyWindow): Promise<void> {
    const n = this.chunk(key, w);
    this.demand.set(key, { takes: 0, since: this.now() });
    const k = `rs:rl:${key}:${w.start}`;
    w.leasing = (async () => {
      try {
        const results = await this.redis.multi().incrby(k, n).pexpire(k, 61_000).exec();
        const [err, count] = results?.[0] ?? [new Error('the rate-limit transaction was discarded'), null];
        if (err || typeof count !== 'number') throw err ?? new Error('unexpected INCRBY answer');
        // Answers may come back out of order; the window's count never goes down.
        w.shared = Math.max(w.shared, count);
        const granted = Math.max(0, Math.min(n, this.perMinute - (count - n)));
        w.tokens += granted;
        if (granted < n) w.full = true;
      } finally {
        w.leasing = null;
      }
    })();
    return w.leasing;
  }
}
