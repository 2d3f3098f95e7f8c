import request from 'supertest';
import type { App } from 'supertest/types';
import { ingestTestApp, type IngestTestApp } from '../testing';

let t: IngestTestApp;
beforeAll(async () => {
  t = await ingestTestApp({ REGSTREAM_RATE_LIMIT_PER_MINUTE: '3' });
});
afterAll(async () => {
  await t.close();
});

it('limits each API key per minute with 429 problem+json and Retry-After, without touching other keys', async () => {
  const server = t.app.getHttpServer() as App;
  const a = await t.key(['read'], 'alice');
  const b = await t.key(['read'], 'bob');
  const statuses: number[] = [];
  let last: request.Response | null = null;
  for (let i = 0; i < 4; i++) {
    last = await request(server).get('/v1/events?limit=1').set('authorization', `Bearer ${a}`);
    statuses.push(last.status);
  }
  expect(statuses).toEqual([200, 200, 200, 429]);
  expect(last?.headers['content-type']).toMatch(/application\/problem\+json/);
  expect(Number(last?.headers['retry-after'])).toBeGreaterThanOrEqual(1);
  expect(Number(last?.headers['retry-after'])).toBeLessThanOrEqual(60);
  expect((await request(server).get('/v1/events?limit=1').set('authorization', `Bearer ${b}`)).status).toBe(200);
});
