import type { StoredEvent } from '@regstream/domain';
import type { Infrastructure } from '@regstream/runtime';
import { ALERTS_OPTIONS, type AlertsOptions } from './options';
import { jobIdOf } from './repository';
import { client, sleep, until } from './testing/client';
import { type AlertsTestApp, embeddedInfra, event, registered, stance, startAlertsApp } from './testing/harness';
import { Receiver } from './testing/receiver';
import { signaturesIn, verifyStandardWebhook } from './testing/standard-webhooks';

let infra: Infrastructure;
let cleanup: () => Promise<void>;
let t: AlertsTestApp;
let receiver: Receiver;

beforeAll(async () => {
  ({ infra, cleanup } = await embeddedInfra());
  t = await startAlertsApp(infra, { maxAttempts: 4, backoffBaseMs: 20 });
  receiver = await Receiver.start();
});
afterAll(async () => {
  await t.close();
  await receiver.close();
  await cleanup();
});

type Delivery = { id: string; status: string; attemptCount: number; kind: string; payload: { type: string; data: Record<string, unknown> }; attempts: { attempt: number; statusCode: number | null; latencyMs: number; error: string | null }[] };

async function subscribe(body: Record<string, unknown>, key = t.keys.alice): Promise<{ id: string; secret: string }> {
  const r = await client(t.url, key).post('/v1/subscriptions', body);
  if (r.status !== 201) throw new Error(`create failed: ${JSON.stringify(r.body)}`);
  return { id: String(r.body['id']), secret: String(r.body['secret']) };
}

async function deliveriesOf(subscriptionId: string, key = t.keys.alice): Promise<Delivery[]> {
  return (await client(t.url, key).get<{ deliveries: Delivery[] }>(`/v1/deliveries?subscriptionId=${subscriptionId}`)).body.deliveries;
}

const published = (instrumentId: string, validtime = '2025-03-01') => event('InstrumentPublished', { instrumentId, summary: 'published' }, { validtime });

describe('event match delivered as a signed webhook', () => {
  it('verifies with an independent Standard Webhooks implementation and logs the attempt', async () => {
    await t.append(registered('cn-labelling-rule', 'CN'));
    const sub = await subscribe({
      name: 'China publishes labelling rules',
      filters: { jurisdictions: ['CN'], eventTypes: ['InstrumentPublished'] },
      rule: { kind: 'event' },
      channel: { kind: 'webhook', url: `${receiver.url}/cn` },
    });
    const e = published('cn-labelling-rule');
    await t.append(e);
    const got = await until(() => receiver.requests.find((r) => r.path === '/cn'));
    expect(await verifyStandardWebhook(sub.secret, { headers: got.headers, body: got.body })).toBe(true);
    expect(signaturesIn(got.headers['webhook-signature'])).toHaveLength(1);
    expect(got.headers['content-type']).toBe('application/json');
    const body = JSON.parse(got.body) as { type: string; subscriptionId: string; data: { event: StoredEvent } };
    expect(body.type).toBe('regstream.event.matched');
    expect(body.subscriptionId).toBe(sub.id);
    expect(body.data.event.id).toBe(e.id);
    expect(body.data.event.recordedtime).toEqual(expect.any(String));

    const [d] = await until(async () => {
      const list = await deliveriesOf(sub.id);
      return list[0]?.status === 'delivered' ? list : undefined;
    });
    expect(d).toMatchObject({ id: got.id, status: 'delivered', attemptCount: 1, kind: 'event' });
    expect(d?.attempts).toEqual([{ attempt: 1, at: expect.any(String), statusCode: 204, latencyMs: expect.any(Number), error: null }]);
    expect((await client(t.url, t.keys.bob).get(`/v1/deliveries/${got.id}`)).status).toBe(404);
    expect((await client(t.url, t.keys.bob).get<{ deliveries: unknown[] }>(`/v1/deliveries?subscriptionId=${sub.id}`)).body.deliveries).toEqual([]);
  });

  it('never sends twice for a redelivered message or a replay, and never alerts on events recorded before the subscription', async () => {
    const old = registered('jp-ai-promotion-act', 'JP');
    await t.append(old, published('jp-ai-promotion-act', '2025-05-01'));
    await sleep(5);
    const sub = await subscribe({ name: 'JP', filters: { jurisdictions: ['JP'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/jp` } });
    const fresh = event('InstrumentEnteredIntoForce', { instrumentId: 'jp-ai-promotion-act' }, { validtime: '2025-06-04' });
    await t.append(fresh);
    await until(() => receiver.requests.find((r) => r.path === '/jp'));
    // Kafka-style redelivery of the same message, and a replay of the whole stream (time travel).
    const stored = await infra.store.readStream('instrument-jp-ai-promotion-act');
    await infra.bus?.publish(stored);
    await infra.bus?.publish(stored);
    await sleep(300);
    const jp = receiver.requests.filter((r) => r.path === '/jp');
    expect(jp).toHaveLength(1);
    expect((JSON.parse(jp[0]?.body ?? '{}') as { data: { event: { id: string } } }).data.event.id).toBe(fresh.id);
    expect(await deliveriesOf(sub.id)).toHaveLength(1);
  });
});

describe('failures', () => {
  it('retries failed attempts with backoff until a 2xx, logging each status code', async () => {
    receiver.respond = (_id, n, path) => (path === '/flaky' && n <= 2 ? 500 : 204);
    await t.append(registered('kr-basic-act', 'KR'));
    const sub = await subscribe({ name: 'KR', filters: { instruments: ['kr-basic-act'], eventTypes: ['InstrumentPublished'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/flaky` } });
    await t.append(published('kr-basic-act'));
    const d = await until(async () => (await deliveriesOf(sub.id)).find((x) => x.status === 'delivered'));
    expect(d.attempts.map((a) => a.statusCode)).toEqual([500, 500, 204]);
    const flaky = receiver.requests.filter((r) => r.path === '/flaky');
    expect(new Set(flaky.map((r) => r.id)).size).toBe(1); // the same webhook-id on every retry
    expect(flaky.filter((r) => r.status === 204)).toHaveLength(1);
  });

  it('dead-letters after the last attempt, and a redrive sends it again', async () => {
    let healthy = false;
    receiver.respond = (_id, _n, path) => (path === '/dead' && !healthy ? 503 : path === '/redirect' ? { status: 301, headers: { location: '/elsewhere' } } : 204);
    await t.append(registered('gb-ai-bill', 'GB'));
    const sub = await subscribe({ name: 'GB', filters: { instruments: ['gb-ai-bill'], eventTypes: ['InstrumentPublished'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/dead` } });
    await t.append(published('gb-ai-bill'));
    const dead = await until(async () => (await deliveriesOf(sub.id)).find((x) => x.status === 'dead'));
    expect(dead.attemptCount).toBe(4);
    expect(dead.attempts.map((a) => a.statusCode)).toEqual([503, 503, 503, 503]);
    const onlyDead = await client(t.url, t.keys.alice).get<{ deliveries: Delivery[] }>(`/v1/deliveries?status=dead&subscriptionId=${sub.id}`);
    expect(onlyDead.body.deliveries.map((x) => x.id)).toEqual([dead.id]);
    expect((await client(t.url, t.keys.bob).post(`/v1/deliveries/${dead.id}/redrive`)).status).toBe(404);

    healthy = true;
    const redriven = await client(t.url, t.keys.alice).post(`/v1/deliveries/${dead.id}/redrive`);
    expect(redriven.status).toBe(202);
    const done = await until(async () => (await deliveriesOf(sub.id)).find((x) => x.status === 'delivered'));
    expect(done.attempts.map((a) => a.statusCode)).toEqual([503, 503, 503, 503, 204]);
    expect((await client(t.url, t.keys.alice).post(`/v1/deliveries/${dead.id}/redrive`)).status).toBe(409);
    expect(receiver.requests.filter((r) => r.path === '/dead' && r.status === 204)).toHaveLength(1);
  });

  it('treats a redirect as a failure and does not follow it', async () => {
    await t.append(registered('ca-aida', 'CA'));
    const sub = await subscribe({ name: 'CA', filters: { instruments: ['ca-aida'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/redirect` } });
    await t.append(published('ca-aida'));
    const d = await until(async () => (await deliveriesOf(sub.id)).find((x) => x.status === 'dead'));
    expect(d.attempts.map((a) => a.statusCode)).toEqual([301, 301, 301, 301]);
    expect(receiver.requests.filter((r) => r.path === '/elsewhere')).toHaveLength(0);
  });

  it('disables the subscription on 410 Gone; PATCH status active turns it back on', async () => {
    receiver.respond = (_id, _n, path) => (path === '/gone' ? 410 : 204);
    await t.append(registered('us-state-act', 'US-CO'));
    const sub = await subscribe({ name: 'CO', filters: { instruments: ['us-state-act'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/gone` } });
    await t.append(published('us-state-act'));
    await until(async () => ((await deliveriesOf(sub.id))[0]?.status === 'gone' ? true : undefined));
    const s = await client(t.url, t.keys.alice).get(`/v1/subscriptions/${sub.id}`);
    expect(s.body).toMatchObject({ status: 'disabled', statusReason: expect.stringContaining('410') });
    // while disabled, nothing matches
    await t.append(event('InstrumentEnteredIntoForce', { instrumentId: 'us-state-act' }, { validtime: '2026-06-30' }));
    await sleep(200);
    expect(await deliveriesOf(sub.id)).toHaveLength(1);
    expect(receiver.requests.filter((r) => r.path === '/gone')).toHaveLength(1);
    const back = await client(t.url, t.keys.alice).patch(`/v1/subscriptions/${sub.id}`, { status: 'active', channel: { kind: 'webhook', url: `${receiver.url}/back` } });
    expect(back.body).toMatchObject({ status: 'active' });
    expect(back.body['statusReason']).toBeUndefined();
  });

  it('rebuilds lost jobs from the delivery log (reconcile), sending each delivery once', async () => {
    receiver.respond = (_id, n, path) => (path === '/lost' && n === 1 ? 500 : 204);
    await t.append(registered('sg-model-framework', 'SG'));
    const sub = await subscribe({ name: 'SG', filters: { instruments: ['sg-model-framework'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/lost` } });
    const options = t.app.get<AlertsOptions>(ALERTS_OPTIONS) as { backoffBaseMs: number };
    options.backoffBaseMs = 60_000; // the retry waits long enough to be lost
    await t.append(published('sg-model-framework'));
    const pending = await until(async () => (await deliveriesOf(sub.id)).find((x) => x.status === 'pending' && x.attemptCount === 1));
    // The retry job disappears (Redis lost its data); only the delivery log remembers it.
    await t.queue.remove(jobIdOf(pending.id, 2));
    expect(await t.queue.has(jobIdOf(pending.id, 2))).toBe(false);
    options.backoffBaseMs = 20;
    await infra.dataSource.query(`UPDATE alert_deliveries SET next_attempt_at = ? WHERE id = ?`, [new Date().toISOString(), pending.id]);
    const r = await t.deliveries.reconcile();
    expect(r.requeued).toBeGreaterThanOrEqual(1);
    await until(async () => (await deliveriesOf(sub.id)).find((x) => x.status === 'delivered'));
    expect(receiver.successes().get(pending.id)).toBe(1);
  });
});

describe('secret rotation', () => {
  it('signs with both secrets during the rotation window, then only the new one', async () => {
    receiver.respond = () => 204;
    await t.append(registered('in-dpdp', 'IN'));
    const sub = await subscribe({ name: 'IN', filters: { instruments: ['in-dpdp'] }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/rotate` } });
    const rotated = await client(t.url, t.keys.alice).post(`/v1/subscriptions/${sub.id}/rotate-secret`, { graceSeconds: 3600 });
    const newSecret = String(rotated.body['secret']);
    await t.append(published('in-dpdp'));
    const got = await until(() => receiver.requests.find((r) => r.path === '/rotate'));
    expect(signaturesIn(got.headers['webhook-signature'])).toHaveLength(2);
    expect(await verifyStandardWebhook(sub.secret, { headers: got.headers, body: got.body })).toBe(true);
    expect(await verifyStandardWebhook(newSecret, { headers: got.headers, body: got.body })).toBe(true);

    const again = await client(t.url, t.keys.alice).post(`/v1/subscriptions/${sub.id}/rotate-secret`, { graceSeconds: 0 });
    const third = String(again.body['secret']);
    await t.append(event('InstrumentEnteredIntoForce', { instrumentId: 'in-dpdp' }, { validtime: '2025-11-13' }));
    const next = await until(() => receiver.requests.filter((r) => r.path === '/rotate')[1]);
    expect(signaturesIn(next.headers['webhook-signature'])).toHaveLength(1);
    expect(await verifyStandardWebhook(third, { headers: next.headers, body: next.body })).toBe(true);
    expect(await verifyStandardWebhook(newSecret, { headers: next.headers, body: next.body })).toBe(false);
  });
});

describe('divergence thresholds', () => {
  it('alerts when the EU–US pair crosses X or moves by Δ, computed before/after each stance change', async () => {
    receiver.respond = () => 204;
    const usStance = stance('US', 'legal_bindingness', 1, '2025-01-01');
    await t.append(stance('EU', 'legal_bindingness', 3, '2024-08-01'), stance('US', 'legal_bindingness', 3, '2024-08-01'));
    const pair = await subscribe({ name: 'EU–US', rule: { kind: 'divergence', scope: 'pair', a: 'EU', b: 'US', crosses: 0.5, movesBy: 0.3 }, channel: { kind: 'webhook', url: `${receiver.url}/pair` } });
    const dim = await subscribe({ name: 'bindingness', rule: { kind: 'divergence', scope: 'dimension', dimension: 'legal_bindingness', movesBy: 0.5 }, channel: { kind: 'webhook', url: `${receiver.url}/dim` } });
    const unrelated = await subscribe({ name: 'EU–CN', rule: { kind: 'divergence', scope: 'pair', a: 'EU', b: 'CN', movesBy: 0.01 }, channel: { kind: 'webhook', url: `${receiver.url}/eucn` } });
    await t.append(usStance);
    const got = await until(() => receiver.requests.find((r) => r.path === '/pair'));
    const data = (JSON.parse(got.body) as { type: string; data: Record<string, unknown> }).data;
    expect(JSON.parse(got.body)).toMatchObject({ type: 'regstream.divergence.threshold' });
    expect(data).toMatchObject({ scope: 'pair', a: 'EU', b: 'US', before: 0, crossed: 'up', moved: true, cause: { eventId: usStance.id, type: 'StanceCoded' } });
    expect(data['after']).toBeCloseTo(2 / 3, 6);
    expect(await verifyStandardWebhook(pair.secret, { headers: got.headers, body: got.body })).toBe(true);
    await sleep(200);
    expect(receiver.requests.filter((r) => r.path === '/dim')).toHaveLength(1); // global on one dimension moved 0 → 0.667
    expect(receiver.requests.filter((r) => r.path === '/eucn')).toHaveLength(0);

    // A retraction moves it back: crossing down.
    await t.append(event('RecordRetracted', { targetEventId: usStance.id, reason: 'miscoded' }, { validtime: '2025-02-01', subject: 'stances-us' }));
    const down = await until(() => receiver.requests.filter((r) => r.path === '/pair')[1]);
    expect((JSON.parse(down.body) as { data: Record<string, unknown> }).data).toMatchObject({ before: expect.any(Number), after: 0, crossed: 'down', cause: { type: 'RecordRetracted' } });

    // A change that leaves the index where it is says nothing.
    await t.append(stance('EU', 'human_oversight', 3, '2024-08-01'));
    await sleep(200);
    expect(receiver.requests.filter((r) => r.path === '/pair')).toHaveLength(2);
    expect(await deliveriesOf(dim.id)).toHaveLength(2);
    expect(await deliveriesOf(unrelated.id)).toHaveLength(0);
  });
});

describe('channels', () => {
  it('streams matches on the per-subscriber SSE feed, resuming after Last-Event-ID', async () => {
    await t.append(registered('br-ai-bill', 'BR'));
    const sub = await subscribe({ name: 'BR feed', filters: { jurisdictions: ['BR'] }, rule: { kind: 'event' }, channel: { kind: 'sse' } });
    const controller = new AbortController();
    const res = await fetch(`${t.url}/v1/subscriptions/${sub.id}/feed`, { headers: { authorization: `Bearer ${t.keys.alice}` }, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const e1 = published('br-ai-bill');
    await t.append(e1);
    while (!text.includes(e1.id)) text += new TextDecoder().decode((await reader.read()).value);
    controller.abort();
    expect(text).toContain('event: regstream.event.matched');
    const firstId = /id: (\d+)/.exec(text)?.[1];
    expect(firstId).toBeDefined();
    // Missed while disconnected: replayed from the log after Last-Event-ID.
    const e2 = event('InstrumentEnteredIntoForce', { instrumentId: 'br-ai-bill' }, { validtime: '2026-01-01' });
    await t.append(e2);
    await sleep(100);
    const resumed = new AbortController();
    const res2 = await fetch(`${t.url}/v1/subscriptions/${sub.id}/feed`, { headers: { authorization: `Bearer ${t.keys.alice}`, 'last-event-id': String(firstId) }, signal: resumed.signal });
    const reader2 = (res2.body as ReadableStream<Uint8Array>).getReader();
    let text2 = '';
    while (!text2.includes(e2.id)) text2 += new TextDecoder().decode((await reader2.read()).value);
    resumed.abort();
    expect(text2).not.toContain(e1.id);
    // SSE subscriptions produce no webhook deliveries
    expect(await deliveriesOf(sub.id)).toHaveLength(0);
  });

  it('sends one daily digest webhook carrying the day’s matches', async () => {
    await t.append(registered('au-ai-standard', 'AU'));
    const sub = await subscribe({ name: 'AU digest', filters: { jurisdictions: ['AU'] }, rule: { kind: 'event' }, channel: { kind: 'digest', url: `${receiver.url}/digest` } });
    const a = published('au-ai-standard');
    const b = event('InstrumentEnteredIntoForce', { instrumentId: 'au-ai-standard' }, { validtime: '2025-09-01' });
    await t.append(a, b);
    await until(async () => ((await t.repo.lastMatchSeq(sub.id)) > 0 ? true : undefined));
    await t.deliveries.reconcile();
    expect(receiver.requests.filter((r) => r.path === '/digest')).toHaveLength(0); // the day is not over
    const day = t.clock.now().toISOString().slice(0, 10);
    t.clock.advance(86_400_000);
    await t.deliveries.reconcile();
    await t.deliveries.reconcile();
    const got = await until(() => receiver.requests.find((r) => r.path === '/digest'));
    const body = JSON.parse(got.body) as { type: string; data: { day: string; count: number; matches: { data: { event: { id: string } } }[] } };
    expect(body.type).toBe('regstream.digest.daily');
    expect(body.data.day).toBe(day);
    expect(body.data.count).toBe(2);
    expect(body.data.matches.map((m) => m.data.event.id)).toEqual([a.id, b.id]);
    expect(await verifyStandardWebhook(sub.secret, { headers: got.headers, body: got.body })).toBe(true);
    await sleep(100);
    expect(receiver.requests.filter((r) => r.path === '/digest')).toHaveLength(1);
  });
});
