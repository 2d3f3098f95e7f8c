import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { ingestTestApp, type IngestTestApp } from '../testing';

/**
 * Hostile input: at least 10,000 generated malformed requests against POST /v1/events on the real
 * PostgreSQL store. Every one must get a 4xx problem+json, none a 5xx, and the store must not change.
 */
jest.setTimeout(300_000);

const TOTAL = 10_000;

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const valid = () => ({
  type: 'ProvisionBecameApplicable',
  subject: 'instrument-eu-ai-act',
  validtime: '2026-08-02',
  knowntime: '2024-07-12',
  citation: { url: 'https://eur-lex.europa.eu/eli/reg/2024/1689/oj', tier: 'primary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' },
  data: { instrumentId: 'eu-ai-act', provision: 'Art. 113' },
});

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const deep = (n: number): Json => {
  let v: Json = 'x';
  for (let i = 0; i < n; i++) v = [v];
  return v;
};

/** Each generator returns a body that no validation could accept, and a label for the report. */
function generate(rnd: () => number): { label: string; body: Buffer; contentType: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const json = (label: string, v: unknown) => ({ label, body: Buffer.from(JSON.stringify(v)), contentType: 'application/json' });
  const wrongValues: Json[] = [null, 42, -1.5, true, false, [], {}, [1, 2], { a: 1 }, '', 'x'.repeat(100_000), deep(200)];
  const kind = Math.floor(rnd() * 10);
  const e = valid() as unknown as { [k: string]: Json; data: Record<string, Json>; citation: Record<string, Json> };
  switch (kind) {
    case 0: {
      // Wrong type in a required envelope field.
      const field = pick(['type', 'subject', 'validtime', 'data']);
      const value = field === 'data' ? pick<Json>([null, 42, true, 'data', [1]]) : pick(wrongValues.filter((v) => typeof v !== 'string' || v.length > 1000 || v === ''));
      (e as Record<string, Json>)[field] = value;
      return json(`wrong-type:${field}`, e);
    }
    case 1: {
      const field = pick(['type', 'subject', 'validtime', 'data']);
      delete e[field];
      return json(`missing:${field}`, e);
    }
    case 2: {
      const field = pick(['instrumentId', 'provision']);
      if (rnd() < 0.5) delete e.data[field];
      else e.data[field] = pick([null, 7, true, [], {}, 'y'.repeat(5000), deep(50)]);
      return json(`bad-data:${field}`, e);
    }
    case 3: {
      e.validtime = pick(['2024-02-30', '2023-13-01', '24-01-01', 'yesterday', '2024-01-01T25:00:00Z', '0000-00-00', '', '2024/01/01', '1e9']);
      return json('invalid-date', e);
    }
    case 4: {
      e.type = pick(['InstrumentExploded', 'instrumentregistered', 'Drop Table', '__proto__', 'constructor', 'x'.repeat(300), 'ProvisionBecameApplicable ']);
      return json('unknown-type', e);
    }
    case 5: {
      const where = pick(['citation.url', 'citation.tier', 'citation.retrievedAt', 'extra', 'schemaversion', 'expectedVersion', 'id']);
      if (where === 'extra') (e as Record<string, Json>)['unexpected'] = 1;
      else if (where === 'schemaversion') e['schemaversion'] = pick([0, 99, -3, 1.5, '1']);
      else if (where === 'expectedVersion') e['expectedVersion'] = pick([-2, 1.5, 'latest', null]);
      else if (where === 'id') e['id'] = pick(['not-a-uuid', 5, '']);
      else e.citation[where.split('.')[1] as string] = pick(['javascript:alert(1)', 'gossip', '29/11/2026', 5, null]);
      return json(`bad-${where}`, e);
    }
    case 6: {
      // A batch where one item is broken: all or nothing.
      const broken = valid() as Record<string, Json>;
      broken['validtime'] = 'not a date';
      const events = Array.from({ length: 1 + Math.floor(rnd() * 5) }, () => valid() as Json);
      events.splice(Math.floor(rnd() * events.length), 0, broken);
      return json('batch-one-broken', pick([{ events }, { events: 'nope' }, { events: [] }, { events, more: 1 }]));
    }
    case 7: {
      // Bad UTF-8 in the bytes of a string that must match a pattern.
      const text = JSON.stringify(valid());
      const at = text.indexOf(pick(['instrument-eu-ai-act', 'ProvisionBecameApplicable']));
      const bytes = Buffer.from(text, 'utf8');
      const bad = Buffer.concat([bytes.subarray(0, at + 3), Buffer.from(pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x9f, 0x92]])), bytes.subarray(at + 3)]);
      return { label: 'bad-utf8', body: bad, contentType: 'application/json' };
    }
    case 8: {
      const raw = pick(['{', '{"type":', '[1,2', 'null', '"text"', '42', 'true', '{"a":1}{', '\u0000', ' ', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[', `${'['.repeat(100_000)}1${']'.repeat(100_000)}`, `{"type":${'['.repeat(50_000)}${']'.repeat(50_000)}}`]);
      return { label: 'malformed-json', body: Buffer.from(raw), contentType: 'application/json' };
    }
    default: {
      // Deep nesting inside data, and huge strings where short text is expected.
      e.data['provision'] = rnd() < 0.5 ? deep(1000) : 'z'.repeat(2001 + Math.floor(rnd() * 50_000));
      return json('deep-or-huge', e);
    }
  }
}

let t: IngestTestApp;
let db: TestDatabase;
let port: number;
let key: string;
beforeAll(async () => {
  db = await createTestDatabase('rs_fuzz');
  t = await ingestTestApp({ DATABASE_URL: db.url, KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092', REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', REGSTREAM_RATE_LIMIT_PER_MINUTE: '1000000' });
  await t.app.listen(0, '127.0.0.1');
  port = (t.app.getHttpServer() as { address(): AddressInfo }).address().port;
  key = await t.key(['events:write', 'read']);
  // A registered instrument, so that a valid ProvisionBecameApplicable would be accepted.
  const reg = {
    type: 'InstrumentRegistered',
    subject: 'instrument-eu-ai-act',
    validtime: '2021-04-21',
    data: { instrumentId: 'eu-ai-act', jurisdiction: 'EU', kind: 'regulation', legalForce: 'binding', issuingBody: 'EU', titles: { en: 'AI Act' } },
  };
  const res = await send(Buffer.from(JSON.stringify(reg)), 'application/json');
  expect(res.status).toBe(201);
});
afterAll(async () => {
  await t?.close();
  await db?.drop();
});

function send(body: Buffer, contentType: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method: 'POST', path: '/v1/events', headers: { 'content-type': contentType, 'content-length': body.length, authorization: `Bearer ${key}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

it(`answers ${TOTAL} malformed requests with 4xx problem+json and writes nothing`, async () => {
  const before = await t.infra.store.count();
  const rnd = prng(20261129);
  const byStatus = new Map<number, number>();
  const labels = new Map<string, number>();
  const bad: string[] = [];
  const started = Date.now();
  const concurrency = 8;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < TOTAL) {
        next += 1;
        const g = generate(rnd);
        const res = await send(g.body, g.contentType);
        byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
        labels.set(g.label, (labels.get(g.label) ?? 0) + 1);
        if (res.status < 400 || res.status >= 500 || !res.type.startsWith('application/problem+json')) {
          bad.push(`${g.label} → ${res.status} ${res.type} ${res.body.slice(0, 200)}`);
        }
      }
    }),
  );
  console.log(
    `fuzz: ${TOTAL} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries(byStatus))}; generators ${JSON.stringify(Object.fromEntries(labels))}`,
  );
  expect(bad.slice(0, 20)).toEqual([]);
  // Every request reached validation (none was turned away by the rate limit instead).
  expect(byStatus.get(429) ?? 0).toBe(0);
  expect(await t.infra.store.count()).toBe(before);
});
