import { randomBytes } from 'node:crypto';
import { OutboxRelay } from '@regstream/messaging';
import type { Infrastructure } from '@regstream/runtime';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import IORedis from 'ioredis';
import { ALERTS_OPTIONS, type AlertsOptions } from './options';
import { jobIdOf } from './repository';
import { client, sleep, until } from './testing/client';
import { type AlertsTestApp, event, postgresInfra, registered, startAlertsApp, TestClock } from './testing/harness';
import { Receiver } from './testing/receiver';
import { verifyStandardWebhook } from './testing/standard-webhooks';

/** A Redis database of its own: the flush below must never touch anything else on this machine. */
const REDIS_DB = 7;

let db: TestDatabase;
let redis: IORedis;
let infra: Infrastructure;
let t: AlertsTestApp;
let receiver: Receiver;
const clock = new TestClock();

async function flushOwnDb(): Promise<void> {
  const [, selected] = ((await redis.call('CLIENT', 'INFO')) as string).match(/\bdb=(\d+)/) ?? [];
  if (Number(selected) !== REDIS_DB || redis.options.db !== REDIS_DB) throw new Error(`refusing to flush: connection is on db ${selected}`);
  await redis.flushdb();
}

beforeAll(async () => {
  db = await createTestDatabase('rs_alerts');
  const server = new URL(process.env['REDIS_URL_TEST'] ?? 'redis://127.0.0.1:6379');
  redis = new IORedis({
    host: server.hostname,
    port: Number(server.port || 6379),
    ...(server.password ? { password: decodeURIComponent(server.password) } : {}),
    db: REDIS_DB,
    maxRetriesPerRequest: null,
  });
  await flushOwnDb();
  infra = await postgresInfra(db.url, redis);
  t = await startAlertsApp(infra, { queueName: `rs-alerts-it-${randomBytes(3).toString('hex')}`, maxAttempts: 4, backoffBaseMs: 50, concurrency: 8 }, clock);
  receiver = await Receiver.start();
});
afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await infra?.close();
  if (redis) {
    await flushOwnDb();
    await redis.quit();
  }
  await db?.drop();
});

type Delivery = { id: string; status: string; attemptCount: number; kind: string; nextAttemptAt?: string; attempts: { statusCode: number | null; latencyMs: number }[] };
const deliveriesOf = async (subId: string, key = t.keys.alice) =>
  (await client(t.url, key).get<{ deliveries: Delivery[] }>(`/v1/deliveries?subscriptionId=${subId}&limit=200`)).body.deliveries;

async function subscribe(body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const r = await client(t.url, t.keys.alice).post('/v1/subscriptions', body);
  if (r.status !== 201) throw new Error(JSON.stringify(r.body));
  return { id: String(r.body['id']), secret: String(r.body['secret']) };
}
const published = (instrumentId: string, n = 0) => event('InstrumentPublished', { instrumentId, summary: `publication ${n}` }, { validtime: '2025-03-01' });

describe('alerts on PostgreSQL and BullMQ', () => {
  it('uses the BullMQ driver and delivers a webhook that an independent verifier accepts', async () => {
    expect(t.queue.driver).toBe('bullmq');
    await t.append(registered('cn-genai-measures', 'CN'));
    const sub = await subscribe({ name: 'CN', filters: { jurisdictions: ['CN'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/cn` } });
    await t.append(published('cn-genai-measures'));
    const got = await until(() => receiver.requests.find((r) => r.path === '/cn'));
    expect(await verifyStandardWebhook(sub.secret, { headers: got.headers, body: got.body })).toBe(true);
    const [d] = await until(async () => ((await deliveriesOf(sub.id))[0]?.status === 'delivered' ? deliveriesOf(sub.id) : undefined));
    expect(d?.attempts).toEqual([expect.objectContaining({ statusCode: 204, latencyMs: expect.any(Number) })]);
    expect((await client(t.url, t.keys.bob).get(`/v1/subscriptions/${sub.id}`)).status).toBe(404);
    expect((await client(t.url, t.keys.bob).del(`/v1/subscriptions/${sub.id}`)).status).toBe(404);
  });

  it('retries with backoff, dead-letters after the last attempt, and re-drives', async () => {
    let healthy = false;
    receiver.respond = (_id, n, path) => (path === '/flaky' ? (n <= 2 ? 500 : 204) : path === '/dead' ? (healthy ? 204 : 502) : 204);
    await t.append(registered('eu-dsa', 'EU'), registered('eu-dma', 'EU'));
    const flaky = await subscribe({ name: 'flaky', filters: { instruments: ['eu-dsa'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/flaky` } });
    const dead = await subscribe({ name: 'dead', filters: { instruments: ['eu-dma'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/dead` } });
    await t.append(published('eu-dsa'), published('eu-dma'));
    const ok = await until(async () => (await deliveriesOf(flaky.id)).find((d) => d.status === 'delivered'));
    expect(ok.attempts.map((a) => a.statusCode)).toEqual([500, 500, 204]);
    const dl = await until(async () => (await deliveriesOf(dead.id)).find((d) => d.status === 'dead'));
    expect(dl.attempts.map((a) => a.statusCode)).toEqual([502, 502, 502, 502]);
    healthy = true;
    expect((await client(t.url, t.keys.alice).post(`/v1/deliveries/${dl.id}/redrive`)).status).toBe(202);
    const again = await until(async () => (await deliveriesOf(dead.id)).find((d) => d.status === 'delivered'));
    expect(again.attemptCount).toBe(5);
    expect(receiver.successes().get(dl.id)).toBe(1);
  });

  it('loses nothing when Redis loses its data while deliveries are pending: all arrive, exactly once each', async () => {
    const N = 40;
    // Half the deliveries fail once (their retry waits in BullMQ's delayed set); the receiver is slow,
    // so at the flush some jobs are active, some waiting and some delayed.
    const options = t.app.get<AlertsOptions>(ALERTS_OPTIONS) as { backoffBaseMs: number };
    options.backoffBaseMs = 1500;
    receiver.delayMs = 100;
    const failFirst = new Set<string>();
    receiver.respond = (id, n, path) => {
      if (path !== '/flush') return 204;
      if (n === 1 && (failFirst.has(id) || failFirst.size < N / 2)) {
        failFirst.add(id);
        return 503;
      }
      return 204;
    };
    await t.append(registered('us-eo-14110', 'US'));
    const sub = await subscribe({ name: 'flush', filters: { instruments: ['us-eo-14110'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/flush` } });
    await t.append(...Array.from({ length: N }, (_, i) => published('us-eo-14110', i)));
    await until(async () => ((await deliveriesOf(sub.id)).length === N ? true : undefined));
    await until(() => (receiver.requests.filter((r) => r.path === '/flush').length >= N / 2 ? true : undefined));
    const before = await t.queue.counts();
    await flushOwnDb();
    const after = await t.queue.counts();
    expect(before.waiting + before.delayed + before.active).toBeGreaterThan(0);
    // What waited is gone. A job in flight at the flush can put itself back as it finishes (a refused
    // attempt moves it to the delayed set), so at most those come back (it happened once in CI: 1).
    expect(after.waiting + after.delayed).toBeLessThanOrEqual(before.active);
    receiver.delayMs = 0;
    options.backoffBaseMs = 50;
    // Start-up and the periodic timer call this; here it is called directly.
    await sleep(300);
    const r = await t.deliveries.reconcile();
    expect(r.requeued).toBeGreaterThan(0);
    await until(async () => ((await deliveriesOf(sub.id)).every((d) => d.status === 'delivered') ? true : undefined), 30000, 100);
    await sleep(500);
    await t.deliveries.reconcile(); // nothing left to do, and nothing is sent again
    await sleep(300);
    const ids = (await deliveriesOf(sub.id)).map((d) => d.id);
    const successes = receiver.successes();
    expect(ids).toHaveLength(N);
    expect(ids.map((id) => successes.get(id) ?? 0)).toEqual(ids.map(() => 1));
  });

  it('keeps a delayed BullMQ job per reminder, and a postponement replaces it and tells the subscriber', async () => {
    receiver.respond = () => 204;
    clock.setNow('2030-01-01T00:00:00.000Z');
    await t.append(
      registered('kr-ai-basic-act', 'KR'),
      event('ProvisionBecameApplicable', { instrumentId: 'kr-ai-basic-act', provision: 'Art. 31 labelling' }, { validtime: '2030-01-20', knowntime: '2029-01-21' }),
    );
    const sub = await subscribe({ name: 'KR deadlines', filters: { jurisdictions: ['KR'] }, rule: { kind: 'deadline', daysBefore: 7 }, channel: { kind: 'webhook', url: `${receiver.url}/kr` } });
    const [first] = await deliveriesOf(sub.id);
    expect(first).toMatchObject({ kind: 'deadline', status: 'pending', nextAttemptAt: '2030-01-13T00:00:00.000Z' });
    expect(await t.queue.has(jobIdOf(String(first?.id), 1))).toBe(true);
    expect((await t.queue.counts()).delayed).toBeGreaterThanOrEqual(1);

    await t.append(
      event('ApplicationPostponed', { instrumentId: 'kr-ai-basic-act', provision: 'Art. 31 labelling', previousDate: '2030-01-20', newDate: '2030-01-25' }, { validtime: '2029-12-30' }),
    );
    const moved = await until(() => receiver.requests.find((r) => r.path === '/kr'));
    expect(JSON.parse(moved.body)).toMatchObject({ type: 'regstream.deadline.moved', data: { previousDate: '2030-01-20', newDate: '2030-01-25' } });
    const all = await deliveriesOf(sub.id);
    const next = all.find((d) => d.kind === 'deadline' && d.status === 'pending');
    expect(all.find((d) => d.id === first?.id)?.status).toBe('cancelled');
    expect(next?.nextAttemptAt).toBe('2030-01-18T00:00:00.000Z');
    expect(await t.queue.has(jobIdOf(String(first?.id), 1))).toBe(false);
    expect(await t.queue.has(jobIdOf(String(next?.id), 1))).toBe(true);
    // After a Redis loss the delayed job comes back from the delivery log.
    await flushOwnDb();
    expect(await t.queue.has(jobIdOf(String(next?.id), 1))).toBe(false);
    await t.deliveries.reconcile();
    expect(await t.queue.has(jobIdOf(String(next?.id), 1))).toBe(true);
  });

  it('measures delivery throughput to a local receiver and the matching rate', async () => {
    receiver.respond = () => 204;
    const N = 1000;
    await t.append(registered('throughput-act', 'JP'));
    const sub = await subscribe({ name: 'bench', filters: { instruments: ['throughput-act'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/bench` } });
    // 50 other subscriptions that do not match, so matching has work to do
    for (let i = 0; i < 50; i++) await subscribe({ name: `noise ${i}`, filters: { instruments: [`other-act-${i}`] }, rule: { kind: 'event' }, channel: { kind: 'sse' } });
    const statsBefore = { ...t.consumer.stats };
    const events = Array.from({ length: N }, (_, i) => published('throughput-act', i));
    const started = Date.now();
    // one append transaction per 100 events, as a bulk import would do
    for (let i = 0; i < N; i += 100) await infra.store.appendBatch([{ streamId: 'instrument-throughput-act', events: events.slice(i, i + 100) }], { now: clock.now() });
    const appended = Date.now();
    await new OutboxRelay(infra.store, infra.publisher).drain();
    await until(() => (receiver.requests.filter((r) => r.path === '/bench').length >= N ? true : undefined), 60000, 50);
    const bench = receiver.requests.filter((r) => r.path === '/bench');
    const first = Math.min(...bench.map((r) => r.at));
    const last = Math.max(...bench.map((r) => r.at));
    const matched = t.consumer.stats.events - statsBefore.events;
    const busy = (t.consumer.stats.busyMs - statsBefore.busyMs) / 1000;
    const commit = (t.consumer.stats.commitMs - statsBefore.commitMs) / 1000;
    const matching = (t.consumer.stats.matchMs - statsBefore.matchMs) / 1000;
    console.log(
      [
        `[bench] ${N} matching events, ${N} webhooks, 51 subscriptions, one process (receiver included), PostgreSQL + BullMQ:`,
        `  append to the event store: ${((appended - started) / 1000).toFixed(2)} s`,
        `  matching: ${(matched / matching).toFixed(0)} events/s against 51 subscriptions (${(matching * 1000).toFixed(0)} ms CPU for ${matched} events)`,
        `  consumer batch wall time: ${busy.toFixed(2)} s (commit of ${N} matches + ${N} deliveries ${commit.toFixed(2)} s; the rest is enqueueing while the worker shares the event loop)`,
        `  delivery: ${(N / ((last - first) / 1000)).toFixed(0)} deliveries/s at the receiver (first to last receipt ${((last - first) / 1000).toFixed(2)} s)`,
        `  end to end: ${((last - started) / 1000).toFixed(2)} s (${(N / ((last - started) / 1000)).toFixed(0)} /s)`,
      ].join('\n'),
    );
    await until(async () => ((await deliveriesOf(sub.id)).every((d) => d.status === 'delivered') ? true : undefined), 30000, 100);
    expect(new Set(bench.map((r) => r.id)).size).toBe(N);
  }, 120000);
});
