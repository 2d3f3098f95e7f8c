import request from 'supertest';
import type { App } from 'supertest/types';
import { ingestTestApp, type IngestTestApp } from '../testing';

const cite = { url: 'https://eur-lex.europa.eu/eli/reg/2024/1689/oj', tier: 'primary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' };
const registered = (id: string) => ({
  type: 'InstrumentRegistered',
  subject: `instrument-${id}`,
  validtime: '2021-04-21',
  knowntime: '2021-04-21',
  citation: cite,
  data: { instrumentId: id, jurisdiction: 'EU', kind: 'regulation', legalForce: 'binding', issuingBody: 'European Parliament and Council', titles: { en: 'AI Act' } },
});
const applies = (id: string, provision = 'Annex III', date = '2026-08-02') => ({
  type: 'ProvisionBecameApplicable',
  subject: `instrument-${id}`,
  validtime: date,
  knowntime: '2024-07-12',
  citation: cite,
  data: { instrumentId: id, provision },
});

let t: IngestTestApp;
let writer: string;
let reader: string;
let server: App;
beforeAll(async () => {
  t = await ingestTestApp();
  writer = await t.key(['events:write', 'read']);
  reader = await t.key(['read']);
  server = t.app.getHttpServer() as App;
});
afterAll(async () => {
  await t.close();
});

const post = (body: unknown, key = writer) => request(server).post('/v1/events').set('authorization', `Bearer ${key}`).send(body as object);

describe('POST /v1/events', () => {
  it('appends one event and answers 201 with its position', async () => {
    const res = await post(registered('one-event'));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ written: 1, replayed: false, events: [{ streamId: 'instrument-one-event', streamVersion: 1, duplicate: false }] });
    expect(Number(res.body.events[0].position)).toBeGreaterThan(0);
  });

  it('appends a multi-stream batch atomically', async () => {
    const res = await post({ events: [registered('batch-a'), applies('batch-a'), registered('batch-b')] });
    expect(res.status).toBe(201);
    expect(res.body.written).toBe(3);
  });

  it('rejects a batch with one bad event as problem+json naming the path, and writes nothing', async () => {
    const before = await t.infra.store.count();
    const bad = { ...applies('batch-c'), validtime: '2026-02-31' };
    const res = await post({ events: [registered('batch-c'), bad] });
    expect(res.status).toBe(422);
    expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
    expect(res.body.errors).toEqual([expect.objectContaining({ path: 'events[1].validtime' })]);
    expect(await t.infra.store.count()).toBe(before);
  });

  it('enforces the instrument rules (a postponement must move the current date)', async () => {
    await post({ events: [registered('rules'), applies('rules')] });
    const res = await post({
      type: 'ApplicationPostponed',
      subject: 'instrument-rules',
      validtime: '2026-07-27',
      knowntime: '2026-07-24',
      data: { instrumentId: 'rules', provision: 'Annex III', previousDate: '2026-09-01', newDate: '2027-12-02' },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('data.previousDate');
  });

  it('answers 409 on a version conflict', async () => {
    await post(registered('conflict'));
    const res = await post({ ...applies('conflict'), expectedVersion: 0 });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ type: 'https://regstream.dev/problems/version-conflict', stream: 'instrument-conflict', actualVersion: 1 });
  });

  it('replays an Idempotency-Key with the original positions and writes nothing', async () => {
    const body = { events: [registered('idem'), applies('idem')] };
    const first = await post(body).set('Idempotency-Key', 'abc-1');
    const count = await t.infra.store.count();
    const again = await post(body).set('Idempotency-Key', 'abc-1');
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.body.events.map((e: { position: string }) => e.position)).toEqual(first.body.events.map((e: { position: string }) => e.position));
    expect(await t.infra.store.count()).toBe(count);
    const other = await post({ events: [registered('idem-2')] }).set('Idempotency-Key', 'abc-1');
    expect(other.status).toBe(422);
    expect(other.body.type).toBe('https://regstream.dev/problems/idempotency-key-reused');
  });

  it('needs a key (401) with the events:write scope (403)', async () => {
    const none = await request(server).post('/v1/events').send(registered('auth'));
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const wrong = await post(registered('auth'), 'rs_aaaaaaaaaaaa_' + 'x'.repeat(43));
    expect(wrong.status).toBe(401);
    const ro = await post(registered('auth'), reader);
    expect(ro.status).toBe(403);
  });

  it('answers 413 for an oversized body and 400 for malformed JSON', async () => {
    const huge = { ...registered('huge'), data: { ...registered('huge').data, issuingBody: 'x'.repeat(2_000_000) } };
    const big = await post(huge);
    expect(big.status).toBe(413);
    expect(big.headers['content-type']).toMatch(/problem\+json/);
    const broken = await request(server).post('/v1/events').set('authorization', `Bearer ${writer}`).set('content-type', 'application/json').send('{"type": ');
    expect(broken.status).toBe(400);
    expect(broken.body.type).toBe('https://regstream.dev/problems/malformed-json');
  });

  it('refuses more than 1,000 events in a batch', async () => {
    const res = await post({ events: Array.from({ length: 1001 }, (_, i) => registered(`many-${i}`)) });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].path).toBe('events');
  });
});

describe('GET /v1/events', () => {
  it('pages the log in commit order with an opaque cursor', async () => {
    const first = await request(server).get('/v1/events?limit=2').set('authorization', `Bearer ${reader}`);
    expect(first.status).toBe(200);
    expect(first.body.events).toHaveLength(2);
    const second = await request(server).get(`/v1/events?limit=2&after=${first.body.next}`).set('authorization', `Bearer ${reader}`);
    expect(Number(second.body.events[0].position)).toBeGreaterThan(Number(first.body.events[1].position));
  });

  it('filters by stream and type', async () => {
    const res = await request(server).get('/v1/events?stream=instrument-batch-a&type=ProvisionBecameApplicable').set('authorization', `Bearer ${reader}`);
    expect(res.body.events.map((e: { type: string }) => e.type)).toEqual(['ProvisionBecameApplicable']);
  });

  it('streams NDJSON for export', async () => {
    const res = await request(server).get('/v1/events').set('authorization', `Bearer ${reader}`).set('accept', 'application/x-ndjson');
    expect(res.headers['content-type']).toMatch(/application\/x-ndjson/);
    const lines = res.text.trim().split('\n').map((l) => JSON.parse(l) as { position: string });
    expect(lines.length).toBe(await t.infra.store.count());
  });

  it('names a bad query parameter', async () => {
    const res = await request(server).get('/v1/events?after=nope&limit=0').set('authorization', `Bearer ${reader}`);
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['query.after', 'query.limit']);
  });
});

describe('operations endpoints', () => {
  it('serves /healthz, /readyz, /metrics and /docs without a key', async () => {
    expect((await request(server).get('/healthz')).body).toEqual({ status: 'ok' });
    const ready = await request(server).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.checks).toEqual([{ name: 'database', ok: true }]);
    expect((await request(server).get('/metrics')).text).toContain('process_cpu_user_seconds_total');
    const doc = await request(server).get('/docs/openapi.json');
    expect(doc.body.paths['/v1/events']).toBeDefined();
  });
});

describe('corrections inside one batch', () => {
  it('accepts a stance correction whose target comes earlier in the same batch', async () => {
    const stanceId = '11111111-1111-4111-8111-111111111111';
    const stance = {
      id: stanceId,
      type: 'StanceCoded',
      subject: 'stances-kr',
      validtime: '2026-01-22',
      knowntime: '2025-01-21',
      data: { jurisdiction: 'KR', codebookVersion: '1.0.0', dimension: 'legal_bindingness', value: 2, provisions: [], evidence: 'e', coder: 'c', confidence: 0.8 },
    };
    const fix = { type: 'RecordCorrected', subject: 'stances-kr', validtime: '2026-02-01', data: { targetEventId: stanceId, changes: { value: 3 }, reason: 'miscoded' } };
    const res = await post({ events: [stance, fix] });
    expect(res.status).toBe(201);
    expect(res.body.written).toBe(2);
    const stray = await post({ events: [{ ...fix, data: { ...fix.data, targetEventId: 'nope' } }] });
    expect(stray.status).toBe(422);
    expect(stray.body.errors[0].path).toBe('events[0].data.targetEventId');
  });
});
