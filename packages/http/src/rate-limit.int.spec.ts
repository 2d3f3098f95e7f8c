import IORedis from 'ioredis';
import { RedisRateLimiter } from './rate-limit';

const redis = new IORedis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
afterAll(() => {
  redis.disconnect();
});

it('counts per key in Redis, shared by every instance, and tells when to retry', async () => {
  const now = () => 60_000 * 28_333_333 + 10_000; // 10 s into a minute window
  const key = `test-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const one = new RedisRateLimiter(redis, 2, now);
  const two = new RedisRateLimiter(redis, 2, now);
  expect((await one.take(key)).allowed).toBe(true);
  expect((await two.take(key)).allowed).toBe(true);
  const third = await one.take(key);
  expect(third).toMatchObject({ allowed: false, limit: 2, retryAfterSeconds: 50 });
  expect((await one.take(`${key}-other`)).allowed).toBe(true);
});

describe('RedisRateLimiter leases', () => {
  const minute = 60_000 * 28_333_400;
  const fresh = () => `test-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const countOf = async (key: string, start: number) => Number((await redis.get(`rs:rl:${key}:${start}`)) ?? 0);

  it('answers most takes from a local lease, and Redis still counts every token handed out', async () => {
    let t = minute + 1_000;
    const limiter = new RedisRateLimiter(redis, 1_000_000, () => t);
    const key = fresh();
    const multi = jest.spyOn(redis, 'multi');
    try {
      let allowed = 0;
      for (let i = 0; i < 2_000; i++) {
        t += 1; // one take per millisecond: leases of about 100 tokens
        if ((await limiter.take(key)).allowed) allowed += 1;
      }
      expect(allowed).toBe(2_000);
      expect(multi.mock.calls.length).toBeGreaterThan(1);
      expect(multi.mock.calls.length).toBeLessThan(60);
    } finally {
      multi.mockRestore();
    }
    // Leases ahead of need: Redis has at least what was taken, and at most a few leases more.
    await new Promise((r) => setTimeout(r, 50));
    const counted = await countOf(key, minute);
    expect(counted).toBeGreaterThanOrEqual(2_000);
    expect(counted).toBeLessThan(2_000 + 400);
  });

  it('never lets several instances together admit more than the limit, and a drained window admits exactly it', async () => {
    const t = minute + 5_000;
    const instances = [0, 1, 2].map(() => new RedisRateLimiter(redis, 100, () => t));
    const key = fresh();
    let allowed = 0;
    const refused: number[] = [];
    for (let i = 0; i < 400; i++) {
      const v = await (instances[i % 3] as RedisRateLimiter).take(key);
      if (v.allowed) allowed += 1;
      else refused.push(v.retryAfterSeconds);
    }
    expect(allowed).toBe(100);
    expect(refused).toHaveLength(300);
    expect(new Set(refused)).toEqual(new Set([55]));
    // The same instances, all at once: still nothing more in this window.
    const burst = await Promise.all(Array.from({ length: 30 }, (_, i) => (instances[i % 3] as RedisRateLimiter).take(key)));
    expect(burst.filter((v) => v.allowed)).toHaveLength(0);
  });

  it('admits exactly the limit under concurrent takes from several instances', async () => {
    const t = minute + 7_000;
    const instances = [0, 1].map(() => new RedisRateLimiter(redis, 250, () => t));
    const key = fresh();
    const verdicts = await Promise.all(Array.from({ length: 600 }, (_, i) => (instances[i % 2] as RedisRateLimiter).take(key)));
    expect(verdicts.filter((v) => v.allowed)).toHaveLength(250);
  });

  it('starts each minute from zero', async () => {
    let t = minute + 59_000;
    const limiter = new RedisRateLimiter(redis, 3, () => t);
    const key = fresh();
    const first = await Promise.all([1, 2, 3, 4].map(() => limiter.take(key)));
    expect(first.map((v) => v.allowed)).toEqual([true, true, true, false]);
    t = minute + 60_000 + 10;
    expect((await limiter.take(key)).allowed).toBe(true);
    expect(await countOf(key, minute + 60_000)).toBe(1);
  });
});
