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

/** The same windows in Redis, shared by every instance of every app. */
export class RedisRateLimiter implements RateLimiter {
  constructor(
    private readonly redis: IORedis,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  async take(key: string): Promise<RateVerdict> {
    const t = this.now();
    const start = t - (t % 60_000);
    const k = `rs:rl:${key}:${start}`;
    const results = await this.redis.multi().incr(k).pexpire(k, 61_000).exec();
    const count = Number(results?.[0]?.[1] ?? 0);
    const allowed = count <= this.perMinute;
    return { allowed, limit: this.perMinute, remaining: this.perMinute - count, retryAfterSeconds: Math.max(1, Math.ceil((start + 60_000 - t) / 1000)) };
  }
}
