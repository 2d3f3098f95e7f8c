import type { Infrastructure } from '@regstream/runtime';
import { client } from '../testing/client';
import { type AlertsTestApp, embeddedInfra, startAlertsApp } from '../testing/harness';
import { Receiver } from '../testing/receiver';

let infra: Infrastructure;
let cleanup: () => Promise<void>;
let t: AlertsTestApp;
let receiver: Receiver;

beforeAll(async () => {
  ({ infra, cleanup } = await embeddedInfra());
  t = await startAlertsApp(infra);
  receiver = await Receiver.start();
});
afterAll(async () => {
  await t.close();
  await receiver.close();
  await cleanup();
});

const count = async (table: string) => Number((await infra.dataSource.query<{ n: number }[]>(`SELECT COUNT(*) AS n FROM ${table}`))[0]?.n);

describe('subscriptions API', () => {
  it('creates, lists, reads, changes and deletes; the secret is shown only on create and rotate', async () => {
    const alice = client(t.url, t.keys.alice);
    const created = await alice.post('/v1/subscriptions', {
      name: 'EU postponements',
      filters: { jurisdictions: ['EU'], eventTypes: ['ApplicationPostponed'] },
      rule: { kind: 'event' },
      channel: { kind: 'webhook', url: `${receiver.url}/hook` },
    });
    expect(created.status).toBe(201);
    expect(created.body['secret']).toMatch(/^whsec_/);
    const id = String(created.body['id']);
    expect(id).toMatch(/^sub_/);

    const read = await alice.get(`/v1/subscriptions/${id}`);
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ id, name: 'EU postponements', status: 'active', rule: { kind: 'event' } });
    expect(read.body['secret']).toBeUndefined();

    const list = await alice.get<{ subscriptions: { id: string; secret?: string }[] }>('/v1/subscriptions');
    expect(list.body.subscriptions.map((s) => s.id)).toContain(id);
    expect(list.body.subscriptions.every((s) => s.secret === undefined)).toBe(true);

    const patched = await alice.patch(`/v1/subscriptions/${id}`, { name: 'renamed', status: 'paused' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ name: 'renamed', status: 'paused' });
    expect(patched.body['secret']).toBeUndefined();

    const rotated = await alice.post(`/v1/subscriptions/${id}/rotate-secret`, { graceSeconds: 60 });
    expect(rotated.status).toBe(200);
    expect(rotated.body['secret']).toMatch(/^whsec_/);
    expect(rotated.body['secret']).not.toBe(created.body['secret']);
    expect(rotated.body['previousSecretValidUntil']).toEqual(expect.any(String));

    expect((await alice.del(`/v1/subscriptions/${id}`)).status).toBe(204);
    expect((await alice.get(`/v1/subscriptions/${id}`)).status).toBe(404);
  });

  it("hides one principal's subscriptions from another (404 on read, change, delete, rotate, feed, deliveries)", async () => {
    const alice = client(t.url, t.keys.alice);
    const bob = client(t.url, t.keys.bob);
    const { body } = await alice.post('/v1/subscriptions', { name: 'mine', rule: { kind: 'event' }, channel: { kind: 'sse' } });
    const id = String(body['id']);
    expect((await bob.get(`/v1/subscriptions/${id}`)).status).toBe(404);
    expect((await bob.patch(`/v1/subscriptions/${id}`, { name: 'hijacked' })).status).toBe(404);
    expect((await bob.del(`/v1/subscriptions/${id}`)).status).toBe(404);
    expect((await bob.post(`/v1/subscriptions/${id}/rotate-secret`)).status).toBe(404);
    expect((await bob.get(`/v1/subscriptions/${id}/feed`)).status).toBe(404);
    const bobs = await bob.get<{ subscriptions: { id: string }[] }>('/v1/subscriptions');
    expect(bobs.body.subscriptions.map((s) => s.id)).not.toContain(id);
    expect((await alice.get(`/v1/subscriptions/${id}`)).body['name']).toBe('mine');
    const problem = await bob.get(`/v1/subscriptions/${id}`);
    expect(problem.headers.get('content-type')).toContain('application/problem+json');
  });

  it('needs the subscriptions:manage scope and an API key', async () => {
    expect((await client(t.url, t.keys.reader).get('/v1/subscriptions')).status).toBe(403);
    expect((await fetch(`${t.url}/v1/subscriptions`)).status).toBe(401);
    expect((await client(t.url, t.keys.reader).get('/v1/deliveries')).status).toBe(403);
  });

  it('refuses invalid bodies with 422 naming every field path, and writes nothing', async () => {
    const before = await count('alert_subscriptions');
    const alice = client(t.url, t.keys.alice);
    const r = await alice.post<{ errors: { path: string; message: string }[]; status: number; type: string }>('/v1/subscriptions', {
      name: '',
      filters: { jurisdictions: ['eu'], eventTypes: ['NoSuchEvent'], dimensions: ['no_such_dimension'], extra: 1 },
      rule: { kind: 'divergence', scope: 'pair', a: 'EU', crosses: 2 },
      channel: { kind: 'webhook' },
    });
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    const paths = r.body.errors.map((e) => e.path).sort();
    expect(paths).toEqual(
      expect.arrayContaining(['name', 'filters.jurisdictions[0]', 'filters.eventTypes[0]', 'filters.dimensions[0]', 'filters', 'rule.crosses', 'channel.url']),
    );
    const badRule = await alice.post<{ errors: { path: string }[] }>('/v1/subscriptions', { name: 'x', rule: { kind: 'sometimes' }, channel: { kind: 'sse' } });
    expect(badRule.status).toBe(422);
    expect(badRule.body.errors.map((e) => e.path)).toContain('rule.kind');
    const pair = await alice.post<{ errors: { path: string }[] }>('/v1/subscriptions', { name: 'x', rule: { kind: 'divergence', scope: 'pair', movesBy: 0.1 }, channel: { kind: 'sse' } });
    expect(pair.body.errors.map((e) => e.path).sort()).toEqual(['rule.a', 'rule.b']);
    const deadline = await alice.post<{ errors: { path: string }[] }>('/v1/subscriptions', { name: 'x', rule: { kind: 'deadline', daysBefore: -1 }, channel: { kind: 'sse' } });
    expect(deadline.body.errors.map((e) => e.path)).toEqual(['rule.daysBefore']);
    expect(await count('alert_subscriptions')).toBe(before);
    const patch = await alice.patch<{ errors: { path: string }[] }>(`/v1/subscriptions/whatever`, { name: 'x' });
    expect(patch.status).toBe(404);
  });

  it('refuses webhook URLs that are not public http(s) (SSRF), naming channel.url', async () => {
    const before = await count('alert_subscriptions');
    const alice = client(t.url, t.keys.alice);
    for (const url of [
      'ftp://example.com/x',
      'file:///etc/passwd',
      'http://10.0.0.1/hook',
      'http://192.168.1.20/hook',
      'http://172.20.0.1/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[fd00:ec2::254]/',
      'http://[::1]:8080/',
      'http://[::ffff:10.0.0.1]:8080/',
      'http://[::ffff:169.254.169.254]/',
      'http://127.0.0.2:8080/',
      'http://100.64.1.1/',
      'http://0.0.0.0:8080/',
      'http://[fe80::1]/',
    ]) {
      const r = await alice.post<{ errors: { path: string; message: string }[] }>('/v1/subscriptions', { name: 'x', rule: { kind: 'event' }, channel: { kind: 'webhook', url } });
      expect({ url, status: r.status, path: r.body.errors?.[0]?.path }).toEqual({ url, status: 422, path: 'channel.url' });
    }
    const digest = await alice.post<{ errors: { path: string }[] }>('/v1/subscriptions', { name: 'x', rule: { kind: 'event' }, channel: { kind: 'digest', url: 'http://10.1.1.1/' } });
    expect(digest.body.errors[0]?.path).toBe('channel.url');
    // 127.0.0.1 is on this test's operator allow-list
    expect((await alice.post('/v1/subscriptions', { name: 'ok', rule: { kind: 'event' }, channel: { kind: 'webhook', url: `${receiver.url}/ok` } })).status).toBe(201);
    expect(await count('alert_subscriptions')).toBe(before + 1);
    const created = await alice.get<{ subscriptions: { id: string }[] }>('/v1/subscriptions');
    const id = created.body.subscriptions[created.body.subscriptions.length - 1]?.id ?? '';
    const patched = await alice.patch<{ errors: { path: string }[] }>(`/v1/subscriptions/${id}`, { channel: { kind: 'webhook', url: 'http://192.168.0.1/' } });
    expect(patched.status).toBe(422);
    expect(patched.body.errors[0]?.path).toBe('channel.url');
  });
});
