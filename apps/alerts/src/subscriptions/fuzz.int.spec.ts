import { request as httpRequest } from 'node:http';
import type { Infrastructure } from '@regstream/runtime';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { client, until } from '../testing/client';
import { type AlertsTestApp, postgresInfra, registered, startAlertsApp } from '../testing/harness';
import { Receiver } from '../testing/receiver';

/**
 * Hostile input against every write endpoint of the alerts service — create, update, delete a
 * subscription, rotate its secret, re-drive a delivery — on the real PostgreSQL store: at least 10,000
 * generated malformed requests. Every one must get a 4xx application/problem+json, none a 5xx, and the
 * subscription store (subscriptions, deliveries, attempts, matches) must not change.
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

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const deep = (n: number, leaf: Json = 'x'): Json => {
  let v: Json = leaf;
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { d: v };
  return v;
};

/**
 * Valid bodies (each is accepted as it is, checked before the fuzz): the generator breaks one thing in a
 * copy. Webhook URLs are IP literals from the documentation range, so the SSRF guard needs no DNS.
 */
const VALID_CREATE: readonly Record<string, Json>[] = [
  {
    name: 'JP events',
    filters: { jurisdictions: ['JP'] },
    rule: { kind: 'event' },
    channel: { kind: 'webhook', url: 'https://192.0.2.10/hook' },
  },
  {
    name: 'pair index',
    rule: { kind: 'divergence', scope: 'pair', a: 'EU', b: 'CN', crosses: 0.5 },
    channel: { kind: 'sse' },
  },
  {
    name: 'deadlines',
    filters: { instruments: ['eu-ai-act'], eventTypes: ['ProvisionBecameApplicable'] },
    rule: { kind: 'deadline', daysBefore: 30 },
    channel: { kind: 'digest', url: 'http://192.0.2.11/digest' },
  },
  {
    name: 'dimension',
    filters: { dimensions: ['legal_bindingness'] },
    rule: { kind: 'divergence', scope: 'dimension', dimension: 'legal_bindingness', movesBy: 0.1 },
    channel: { kind: 'sse' },
  },
];

const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

const HUGE = (n: number) => 'x'.repeat(n);
/** Values of the wrong type (or, for '', the right type but empty) for any field of a subscription. */
const WRONG: readonly Json[] = [null, 42, -1.5, true, false, [], [1, 2], { a: 1 }, '', deep(300)];
const BAD_DATES: readonly string[] = [
  '2024-02-30',
  '2023-13-01',
  '24-01-01',
  'yesterday',
  '2024-01-01T25:00:00Z',
  '0000-00-00',
  '2024/01/01',
  '1e9',
  '',
];
const REFUSED_URLS: readonly string[] = [
  'ftp://192.0.2.10/x',
  'javascript:alert(1)',
  'file:///etc/passwd',
  'http://10.0.0.1/hook',
  'http://169.254.169.254/latest/meta-data',
  'http://[::1]/',
  'http://[::ffff:10.0.0.1]/',
  'http://0.0.0.0/',
  'http://192.168.1.1/',
  'not a url',
  'http://',
  'https://%zz/',
  `https://192.0.2.10/${'a'.repeat(2100)}`,
];

interface Req {
  readonly label: string;
  readonly method: 'POST' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly body: Buffer | null;
  readonly contentType: string;
  /** Which key to send: the owner (alice), another principal (bob), a read-only key, or none. */
  readonly as: 'alice' | 'bob' | 'reader' | 'none' | 'bogus';
}

interface Fixtures {
  /** Alice's subscription the PATCH/rotate generators aim at. */
  readonly own: string;
  readonly bobs: string;
  /** Alice's delivery that is delivered (not re-drivable) and one of Bob's. */
  readonly ownDelivery: string;
  readonly bobsDelivery: string;
}

/** Each call returns a request that no correct server could accept, and a label for the report. */
function generate(rnd: () => number, f: Fixtures): Req {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const json = (
    label: string,
    method: Req['method'],
    path: string,
    v: unknown,
    as: Req['as'] = 'alice',
  ): Req => ({
    label,
    method,
    path,
    body: Buffer.from(JSON.stringify(v)),
    contentType: 'application/json',
    as,
  });
  const base = () =>
    clone(pick(VALID_CREATE)) as Record<string, Json> & {
      rule: Record<string, Json>;
      channel: Record<string, Json>;
    };
  const badId = () =>
    pick([
      `sub_${Math.floor(rnd() * 1e12)
        .toString(16)
        .padStart(32, '0')}`,
      f.bobs,
      encodeURIComponent(HUGE(1000 + Math.floor(rnd() * 6000))),
      '%FF%FE',
      '%C3%28',
      '..%2F..%2Fetc%2Fpasswd',
      encodeURIComponent("sub_' OR '1'='1"),
      '%00',
      encodeURIComponent('sub_\u202e\u0000'),
      'null',
      encodeURIComponent(f.own.toUpperCase()),
    ]);
  const kind = Math.floor(rnd() * 16);
  switch (kind) {
    case 0: {
      // Wrong type in a field of a create body.
      const b = base();
      const field = pick(['name', 'filters', 'rule', 'channel']);
      b[field] = field === 'filters' ? pick<Json>([null, 42, 'EU', [], true]) : pick(WRONG);
      return json(`create:wrong-type:${field}`, 'POST', '/v1/subscriptions', b);
    }
    case 1: {
      const b = base();
      const field = pick([
        'name',
        'rule',
        'channel',
        'rule.kind',
        'channel.kind',
        'channel.url',
        'rule.daysBefore',
        'rule.scope',
      ]);
      const [top, sub] = field.split('.') as [string, string | undefined];
      if (sub === undefined) delete b[top];
      else if (sub === 'url') b.channel = { kind: pick(['webhook', 'digest']) };
      else if (sub === 'daysBefore' || sub === 'scope') {
        // A deadline without its days, a divergence without its scope.
        b.rule = sub === 'daysBefore' ? { kind: 'deadline' } : { kind: 'divergence', crosses: 0.5 };
      } else delete (b[top] as Record<string, Json>)[sub];
      return json(`create:missing:${field}`, 'POST', '/v1/subscriptions', b);
    }
    case 2: {
      // Huge strings where short text is expected.
      const b = base();
      const where = pick(['name', 'url', 'jurisdiction', 'instrument', 'many-jurisdictions']);
      if (where === 'name') b['name'] = HUGE(201 + Math.floor(rnd() * 100_000));
      else if (where === 'url') {
        b.channel = { kind: 'webhook', url: `https://192.0.2.10/${HUGE(2049 + Math.floor(rnd() * 50_000))}` };
      } else if (where === 'jurisdiction') {
        b['filters'] = { jurisdictions: [HUGE(3 + Math.floor(rnd() * 50_000))] };
      } else if (where === 'instrument') {
        b['filters'] = { instruments: [`a${'-b'.repeat(60 + Math.floor(rnd() * 5000))}`] };
      } else {
        b['filters'] = { jurisdictions: Array.from({ length: 201 + Math.floor(rnd() * 2000) }, () => 'EU') };
      }
      return json(`create:huge:${where}`, 'POST', '/v1/subscriptions', b);
    }
    case 3: {
      // Deep nesting.
      const b = base();
      const where = pick(['filters', 'rule', 'name', 'extra']);
      if (where === 'filters') b['filters'] = { jurisdictions: [deep(500 + Math.floor(rnd() * 1500))] };
      else if (where === 'rule') b.rule = { ...b.rule, nested: deep(1000) };
      else if (where === 'name') b['name'] = deep(800);
      else b['extra'] = deep(2000);
      return json(`create:deep:${where}`, 'POST', '/v1/subscriptions', b);
    }
    case 4: {
      // Dates: invalid ones, and dates where a number belongs (there is no date field to set).
      const b = base();
      const where = pick(['daysBefore', 'crosses', 'startsAt', 'createdAt']);
      if (where === 'daysBefore') b.rule = { kind: 'deadline', daysBefore: pick(BAD_DATES) };
      else if (where === 'crosses') {
        b.rule = { kind: 'divergence', scope: 'global', crosses: pick(BAD_DATES) };
      } else b[where] = pick(BAD_DATES);
      return json(`create:invalid-date:${where}`, 'POST', '/v1/subscriptions', b);
    }
    case 5: {
      // Unknown enum values.
      const b = base();
      const where = pick([
        'rule.kind',
        'scope',
        'channel.kind',
        'eventTypes',
        'dimensions',
        'jurisdictions',
        'dimension',
      ]);
      if (where === 'rule.kind') {
        b.rule = {
          ...b.rule,
          kind: pick(['events', 'Event', 'webhook', '__proto__', 'constructor', 'EVENT', 'event ']),
        };
      } else if (where === 'scope') {
        b.rule = {
          kind: 'divergence',
          scope: pick(['planet', 'PAIR', 'pairs', '', 'global ']),
          crosses: 0.5,
        };
      } else if (where === 'channel.kind') {
        b.channel = {
          kind: pick(['email', 'WEBHOOK', 'sms', 'Sse', 'web hook']),
          url: 'https://192.0.2.10/h',
        };
      } else if (where === 'eventTypes') {
        b['filters'] = {
          eventTypes: [
            pick(['InstrumentExploded', 'instrumentregistered', 'Drop Table', 'ProvisionBecameApplicable ']),
          ],
        };
      } else if (where === 'dimensions') {
        b['filters'] = { dimensions: [pick(['nope', 'LEGAL_BINDINGNESS', 'legal bindingness', ''])] };
      } else if (where === 'dimension') {
        b.rule = {
          kind: 'divergence',
          scope: 'dimension',
          dimension: pick(['nope', 'toString', '__proto__']),
          crosses: 0.2,
        };
      } else {
        b['filters'] = {
          jurisdictions: [pick(['eu', 'E U', 'EUR-OPE', 'XX-TOOLONG', 'INTL-', 'US-ca', '🇪🇺'])],
        };
      }
      return json(`create:unknown-enum:${where}`, 'POST', '/v1/subscriptions', b);
    }
    case 6: {
      // Out of range or inconsistent rules, unknown or server-owned fields, refused webhook URLs.
      const b = base();
      const what = pick([
        'range',
        'inconsistent',
        'extra',
        'refused-url',
        'empty-array',
        'blank-name',
        'nul-in-name',
      ]);
      if (what === 'range') {
        b.rule = pick<Record<string, Json>>([
          { kind: 'deadline', daysBefore: pick([-1, 3651, 1e308, -0.5]) },
          { kind: 'divergence', scope: 'global', crosses: pick([1.5, -0.1, 2]) },
          { kind: 'divergence', scope: 'global', movesBy: pick([0, -0.2, 1.01]) },
        ]);
      } else if (what === 'inconsistent') {
        b.rule = pick<Record<string, Json>>([
          { kind: 'divergence', scope: 'pair', crosses: 0.5 },
          { kind: 'divergence', scope: 'pair', a: 'EU', crosses: 0.5 },
          { kind: 'divergence', scope: 'pair', a: 'EU', b: 'EU', crosses: 0.5 },
          { kind: 'divergence', scope: 'dimension', crosses: 0.5 },
          { kind: 'divergence', scope: 'global' },
          { kind: 'event', daysBefore: 3 },
          { kind: 'sse' },
        ]);
      } else if (what === 'extra') {
        b[pick(['id', 'principal', 'secret', 'status', 'createdAt', 'previousSecret', 'unexpected'])] =
          pick<Json>(['sub_0', 'bob', 'whsec_AAAA', 'active', 1]);
      } else if (what === 'refused-url') {
        b.channel = { kind: pick(['webhook', 'digest']), url: pick(REFUSED_URLS) };
      } else if (what === 'empty-array') {
        b['filters'] = { [pick(['jurisdictions', 'instruments', 'eventTypes', 'dimensions'])]: [] };
      } else if (what === 'blank-name') {
        b['name'] = pick(['   ', '\t\n', '']);
      } else {
        b['name'] = pick(['nul\u0000byte', '\u0000', `${HUGE(50)}\u0000`]);
      }
      return json(`create:${what}`, 'POST', '/v1/subscriptions', b);
    }
    case 7: {
      // Bad UTF-8 inside the bytes of a JSON string: free text (the name) or a URL.
      const b = base();
      b['name'] = 'Naïve name';
      const text = JSON.stringify(b);
      const at = text.indexOf(pick(['Na', 'https://', 'http://', '"kind"'])) + 2;
      const bytes = Buffer.from(text, 'utf8');
      const bad = Buffer.concat([
        bytes.subarray(0, at),
        Buffer.from(
          pick([[0xff], [0xc3, 0x28], [0xe2, 0x82], [0xf0, 0x9f, 0x92], [0xed, 0xa0, 0x80], [0xc0, 0xaf]]),
        ),
        bytes.subarray(at),
      ]);
      // As a PATCH the same body is a complete, valid change but for the broken bytes.
      const patch = rnd() < 0.5;
      return {
        label: `bad-utf8:${patch ? 'patch' : 'create'}`,
        method: patch ? 'PATCH' : 'POST',
        path: patch ? `/v1/subscriptions/${f.own}` : '/v1/subscriptions',
        body: bad,
        contentType: 'application/json',
        as: 'alice',
      };
    }
    case 8: {
      // Malformed JSON on every write endpoint; valid but absurdly deep JSON where a body is read.
      const deepValid = rnd() < 0.2;
      const raw = deepValid
        ? pick([
            `${'['.repeat(100_000)}1${']'.repeat(100_000)}`,
            `{"rule":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`,
          ])
        : pick([
            '{',
            '{"name":',
            '[1,2',
            '{"a":1}{',
            '\u0000',
            '{name: "x"}',
            "{'name': 'x'}",
            '{"name":"x",}',
            '[[[[[[[[[[[[[[[[[[[[[[[[',
            `${'['.repeat(100_000)}1`,
            '{"name":"\\x41"}',
            'NaN',
            '{"daysBefore":01}',
          ]);
      const targets: [Req['method'], string][] = [
        ['POST', '/v1/subscriptions'],
        ['PATCH', `/v1/subscriptions/${f.own}`],
        ['POST', `/v1/subscriptions/${f.own}/rotate-secret`],
      ];
      // DELETE and re-drive read no body: only broken JSON (a parse error) makes them malformed.
      if (!deepValid) {
        targets.push(
          ['DELETE', `/v1/subscriptions/${f.own}`],
          ['POST', `/v1/deliveries/${f.ownDelivery}/redrive`],
        );
      }
      const [method, path] = pick(targets);
      return {
        label: `${deepValid ? 'deep-json' : 'malformed-json'}:${method}`,
        method,
        path,
        body: Buffer.from(raw),
        contentType: 'application/json',
        as: 'alice',
      };
    }
    case 9: {
      // Not a JSON object at all, or not JSON (a body the JSON parser leaves alone is no body).
      const which = pick(['null', 'array', 'string', 'number', 'text/plain', 'form']);
      const path = pick(['/v1/subscriptions', `/v1/subscriptions/${f.own}`]);
      const method: Req['method'] = path === '/v1/subscriptions' ? 'POST' : 'PATCH';
      if (which === 'text/plain') {
        return {
          label: `not-json:${which}`,
          method,
          path,
          body: Buffer.from('name=x&rule=event'),
          contentType: 'text/plain',
          as: 'alice',
        };
      }
      if (which === 'form') {
        return {
          label: `not-json:${which}`,
          method,
          path,
          body: Buffer.from('name=x&rule[kind]=event'),
          contentType: 'application/x-www-form-urlencoded',
          as: 'alice',
        };
      }
      return json(
        `not-object:${which}`,
        method,
        path,
        which === 'null'
          ? null
          : which === 'array'
            ? [VALID_CREATE[0] as Json]
            : which === 'string'
              ? 'subscription'
              : 42,
      );
    }
    case 10: {
      // PATCH of the caller's own subscription with a broken change.
      const what = pick([
        'empty',
        'wrong-type',
        'status',
        'extra',
        'refused-url',
        'huge',
        'deep',
        'rule',
        'blank-name',
        'nul-in-name',
      ]);
      let body: Record<string, Json>;
      if (what === 'empty') body = {};
      else if (what === 'wrong-type') {
        body = { [pick(['name', 'filters', 'rule', 'channel', 'status'])]: pick(WRONG) };
      } else if (what === 'status') body = { status: pick(['disabled', 'deleted', 'ACTIVE', '', 'gone']) };
      else if (what === 'extra') {
        body = {
          name: 'renamed',
          [pick(['secret', 'principal', 'id', 'createdAt', 'updatedAt', 'statusReason'])]: pick<Json>([
            'whsec_x',
            'bob',
            'sub_1',
            '2024-02-30',
            null,
          ]),
        };
      } else if (what === 'refused-url') body = { channel: { kind: 'webhook', url: pick(REFUSED_URLS) } };
      else if (what === 'huge') body = { name: HUGE(201 + Math.floor(rnd() * 50_000)) };
      else if (what === 'deep') body = { filters: deep(1500) };
      else if (what === 'rule') {
        body = {
          rule: pick<Json>([
            { kind: 'deadline', daysBefore: '2024-02-30' },
            { kind: 'divergence', scope: 'pair', a: 'EU' },
            { kind: 'nope' },
          ]),
        };
      } else if (what === 'nul-in-name') body = { name: 'renamed\u0000' };
      else body = { name: '   ' };
      return json(`patch:${what}`, 'PATCH', `/v1/subscriptions/${f.own}`, body);
    }
    case 11: {
      // A well-formed change to a subscription that is not the caller's, or does not exist.
      const method = pick<Req['method']>(['PATCH', 'DELETE', 'POST']);
      const id = badId();
      if (method === 'PATCH') {
        return json('not-found:patch', 'PATCH', `/v1/subscriptions/${id}`, { name: 'taken over' });
      }
      if (method === 'DELETE') {
        return {
          label: 'not-found:delete',
          method,
          path: `/v1/subscriptions/${id}`,
          body: null,
          contentType: 'application/json',
          as: 'alice',
        };
      }
      return json('not-found:rotate', 'POST', `/v1/subscriptions/${id}/rotate-secret`, {});
    }
    case 12: {
      // Rotation with a broken body.
      const body = pick<Json>([
        { graceSeconds: -1 },
        { graceSeconds: 1.5 },
        { graceSeconds: '60' },
        { graceSeconds: 7 * 86400 + 1 },
        { graceSeconds: null },
        { graceSeconds: 1e308 },
        { graceSeconds: pick(BAD_DATES) },
        { graceSeconds: 60, extra: 1 },
        { secret: 'whsec_chosen' },
        [],
        'rotate',
        deep(1000),
      ]);
      return json('rotate:bad-body', 'POST', `/v1/subscriptions/${f.own}/rotate-secret`, body);
    }
    case 13: {
      // Re-drive: unknown, another principal's, or not re-drivable (delivered).
      const id = pick([f.ownDelivery, f.bobsDelivery, badId()]);
      return {
        label: `redrive:${id === f.ownDelivery ? 'delivered' : id === f.bobsDelivery ? 'not-yours' : 'unknown'}`,
        method: 'POST',
        path: `/v1/deliveries/${id}/redrive`,
        body: null,
        contentType: 'application/json',
        as: 'alice',
      };
    }
    case 14: {
      // A valid create, but without a key, with a bogus one, or with a key that lacks the scope.
      const as = pick<Req['as']>(['none', 'bogus', 'reader']);
      const [method, path] = pick<[Req['method'], string]>([
        ['POST', '/v1/subscriptions'],
        ['PATCH', `/v1/subscriptions/${f.own}`],
        ['DELETE', `/v1/subscriptions/${f.own}`],
        ['POST', `/v1/subscriptions/${f.own}/rotate-secret`],
      ]);
      return json(
        `auth:${as}`,
        method,
        path,
        method === 'PATCH' ? { name: 'x' } : method === 'DELETE' ? {} : clone(VALID_CREATE[0] as Json),
        as,
      );
    }
    default: {
      // Prototype pollution and duplicate keys in the raw JSON.
      const raw = pick([
        `{"__proto__":{"admin":true},"name":"p","rule":{"kind":"event"},"channel":{"kind":"sse"}}`,
        `{"name":"p","rule":{"kind":"event","__proto__":{"kind":"deadline"}},"channel":{"kind":"sse"}}`,
        `{"constructor":{"prototype":{"x":1}},"name":"p","rule":{"kind":"event"},"channel":{"kind":"sse"}}`,
        `{"name":"p","rule":{"kind":"event"},"channel":{"kind":"sse"},"channel":{"kind":"email"}}`,
        `{"name":"p","name":"${HUGE(500)}","rule":{"kind":"event"},"channel":{"kind":"sse"}}`,
      ]);
      return {
        label: 'pollution',
        method: 'POST',
        path: '/v1/subscriptions',
        body: Buffer.from(raw),
        contentType: 'application/json',
        as: 'alice',
      };
    }
  }
}

let db: TestDatabase;
let infra: Infrastructure;
let t: AlertsTestApp;
let port: number;
let fixtures: Fixtures;
let receiver: Receiver;

const TABLES = [
  'alert_subscriptions',
  'alert_deliveries',
  'alert_delivery_attempts',
  'alert_matches',
] as const;
async function snapshot(): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of TABLES) {
    out[table] = await infra.dataSource.query(`SELECT * FROM ${table} ORDER BY 1, 2`);
  }
  return out;
}

beforeAll(async () => {
  db = await createTestDatabase('rs_alerts_fuzz');
  // The receiver of the fixtures' webhooks is on 127.0.0.1, so that (and only that) is allow-listed.
  infra = await postgresInfra(db.url, null, '127.0.0.1');
  t = await startAlertsApp(infra);
  receiver = await Receiver.start();
  port = Number(new URL(t.url).port);
  const alice = client(t.url, t.keys.alice);
  const bob = client(t.url, t.keys.bob);
  // Every valid body the generator starts from is accepted as it is (then deleted again: nothing may ever
  // send to their documentation-range addresses).
  for (const body of VALID_CREATE) {
    const r = await alice.post('/v1/subscriptions', body);
    expect(r.status).toBe(201);
    expect((await alice.del(`/v1/subscriptions/${String(r.body['id'])}`)).status).toBe(204);
  }
  const hook = { kind: 'webhook', url: `${receiver.url}/fuzz` };
  const own = await alice.post('/v1/subscriptions', {
    name: 'fuzz target',
    filters: { instruments: ['fuzz-act'] },
    rule: { kind: 'event' },
    channel: hook,
  });
  const bobs = await bob.post('/v1/subscriptions', {
    name: 'bob',
    filters: { instruments: ['fuzz-act'] },
    rule: { kind: 'event' },
    channel: hook,
  });
  expect([own.status, bobs.status]).toEqual([201, 201]);
  await t.append(registered('fuzz-act', 'EU'));
  const delivered = async (key: string) => {
    const r = await client(t.url, key).get<{ deliveries: { id: string; status: string }[] }>(
      '/v1/deliveries',
    );
    return r.body.deliveries.find((d) => d.status === 'delivered')?.id;
  };
  fixtures = {
    own: String(own.body['id']),
    bobs: String(bobs.body['id']),
    ownDelivery: await until(() => delivered(t.keys.alice), 20_000, 50),
    bobsDelivery: await until(() => delivered(t.keys.bob), 20_000, 50),
  };
  // Nothing appends while the fuzz runs, so nothing else can change the store.
}, 60_000);

afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await infra?.close();
  await db?.drop();
});

function send(r: Req): Promise<{ status: number; type: string; body: string }> {
  const key =
    r.as === 'alice'
      ? t.keys.alice
      : r.as === 'bob'
        ? t.keys.bob
        : r.as === 'reader'
          ? t.keys.reader
          : r.as === 'bogus'
            ? 'rs_bogus_0000'
            : null;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        method: r.method,
        path: r.path,
        headers: {
          ...(r.body ? { 'content-type': r.contentType, 'content-length': r.body.length } : {}),
          ...(key ? { authorization: `Bearer ${key}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            type: String(res.headers['content-type'] ?? ''),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(r.body ?? undefined);
  });
}

it(`answers ${TOTAL} malformed requests to the subscription write endpoints with 4xx problem+json and changes nothing`, async () => {
  const before = await snapshot();
  const rnd = prng(20261130);
  const byStatus = new Map<number, number>();
  const labels = new Map<string, number>();
  const bad: string[] = [];
  const started = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < TOTAL) {
        next += 1;
        const g = generate(rnd, fixtures);
        const res = await send(g);
        byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
        const family = g.label.split(':').slice(0, 2).join(':');
        labels.set(family, (labels.get(family) ?? 0) + 1);
        if (res.status < 400 || res.status >= 500 || !res.type.startsWith('application/problem+json')) {
          bad.push(
            `${g.label} ${g.method} ${g.path.slice(0, 80)} → ${res.status} ${res.type} ${res.body.slice(0, 200)}`,
          );
        }
      }
    }),
  );
  console.log(
    `subscriptions fuzz: ${TOTAL} requests in ${Date.now() - started} ms; statuses ${JSON.stringify(Object.fromEntries([...byStatus].sort((a, b) => a[0] - b[0])))}; ` +
      `generators ${JSON.stringify(Object.fromEntries([...labels].sort()))}`,
  );
  expect(bad.slice(0, 20)).toEqual([]);
  expect(bad).toHaveLength(0);
  // Every request reached the endpoint's checks (none was turned away by the rate limit instead).
  expect(byStatus.get(429) ?? 0).toBe(0);
  expect(await snapshot()).toEqual(before);
});
