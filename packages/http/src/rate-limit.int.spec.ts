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
