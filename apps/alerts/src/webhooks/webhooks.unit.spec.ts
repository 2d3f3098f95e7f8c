import { Receiver } from '../testing/receiver';
import { signaturesIn, verifyStandardWebhook } from '../testing/standard-webhooks';
import { WebhookSender } from './sender';
import { generateSecret, webhookHeaders } from './signing';
import { embeddedIpv4, parseAllowlist, refusalReason, SsrfGuard, WebhookUrlRefused } from './ssrf';

describe('Standard Webhooks signing', () => {
  it('is verified by an independent implementation of the spec', async () => {
    const secret = generateSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const body = JSON.stringify({ type: 'x', data: { a: 1, text: 'naïve ünïcode' } });
    const ts = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders([secret], 'msg_1', ts, body);
    expect(await verifyStandardWebhook(secret, { headers, body })).toBe(true);
    expect(await verifyStandardWebhook(secret, { headers, body: `${body} ` })).toBe(false);
    expect(await verifyStandardWebhook(generateSecret(), { headers, body })).toBe(false);
    expect(await verifyStandardWebhook(secret, { headers: { ...headers, 'webhook-id': 'msg_2' }, body })).toBe(false);
    // stale timestamps are refused by the receiver's tolerance
    expect(await verifyStandardWebhook(secret, { headers: webhookHeaders([secret], 'msg_1', ts - 3600, body), body })).toBe(false);
  });

  it('matches the Standard Webhooks reference vector', async () => {
    // From the specification's example: secret, id, timestamp and payload with a known signature.
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const body = '{"test": 2432232314}';
    const headers = webhookHeaders([secret], 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, body);
    expect(headers['webhook-signature']).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
    expect(await verifyStandardWebhook(secret, { headers, body }, 1614265330)).toBe(true);
  });

  it('sends one signature per secret during a rotation window', async () => {
    const [a, b] = [generateSecret(), generateSecret()];
    const body = '{}';
    const headers = webhookHeaders([a, b], 'msg_r', Math.floor(Date.now() / 1000), body);
    expect(signaturesIn(headers['webhook-signature'])).toHaveLength(2);
    expect(await verifyStandardWebhook(a, { headers, body })).toBe(true);
    expect(await verifyStandardWebhook(b, { headers, body })).toBe(true);
  });
});

describe('SSRF guard', () => {
  const none = parseAllowlist([]);

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.10.10', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.254', 'carrier-grade NAT'],
    ['0.0.0.0', 'this network'],
    ['0.1.2.3', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:0:192.168.0.1', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:a9fe:a9fe::1', 'metadata'],
  ])('refuses %s (%s)', (address, why) => {
    expect(refusalReason(address, none)).toContain(why);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('allows public %s', (address) => {
    expect(refusalReason(address, none)).toBeNull();
  });

  it('extracts IPv4 embedded in IPv6 forms', () => {
    expect(embeddedIpv4('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(embeddedIpv4('::ffff:0102:0304')).toBe('1.2.3.4');
    expect(embeddedIpv4('2001:db8::1')).toBeNull();
  });

  it('lets the operator allow-list name addresses and ranges', () => {
    const allow = parseAllowlist(['127.0.0.1, 10.20.0.0/16', 'fd00::/8']);
    expect(refusalReason('127.0.0.1', allow)).toBeNull();
    expect(refusalReason('::ffff:127.0.0.1', allow)).toBeNull();
    expect(refusalReason('127.0.0.2', allow)).toContain('loopback');
    expect(refusalReason('10.20.3.4', allow)).toBeNull();
    expect(refusalReason('10.21.0.1', allow)).toContain('private');
    expect(refusalReason('fd00:ec2::254', allow)).toBeNull();
    expect(() => parseAllowlist(['not-an-ip'])).toThrow(/not an IP address/);
    expect(() => parseAllowlist(['10.0.0.0/33'])).toThrow(/prefix/);
  });

  it('refuses schemes other than http(s), and hosts resolving to any refused address', async () => {
    const dns: Record<string, string[]> = {
      'public.example': ['93.184.216.34'],
      'internal.example': ['10.0.0.5'],
      'mixed.example': ['93.184.216.34', '192.168.0.10'],
      'v6.example': ['::ffff:169.254.169.254'],
    };
    const guard = new SsrfGuard([], (host) =>
      dns[host] ? Promise.resolve(dns[host].map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }))) : Promise.reject(new Error('ENOTFOUND')),
    );
    await expect(guard.check('https://public.example/hook')).resolves.toMatchObject({ addresses: [{ address: '93.184.216.34' }] });
    for (const [url, reason] of [
      ['ftp://public.example/x', /scheme 'ftp'/],
      ['file:///etc/passwd', /scheme 'file'/],
      ['gopher://public.example/', /scheme/],
      ['http://internal.example/', /10\.0\.0\.5: private/],
      ['http://mixed.example/', /192\.168\.0\.10/],
      ['http://v6.example/', /metadata/],
      ['http://127.0.0.1:8080/', /loopback/],
      ['http://[::1]/', /loopback/],
      ['http://[::ffff:127.0.0.1]/', /loopback/],
      ['http://169.254.169.254/latest/meta-data', /metadata/],
      ['http://nowhere.example/', /cannot resolve/],
      ['not a url', /not a valid URL/],
    ] as const) {
      await expect(guard.check(url)).rejects.toThrow(reason);
      await expect(guard.check(url)).rejects.toBeInstanceOf(WebhookUrlRefused);
    }
  });
});

describe('webhook sender', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await Receiver.start();
  });
  afterAll(async () => {
    await receiver.close();
  });

  it('connects to the checked address, not to a second DNS answer (rebinding)', async () => {
    // The name does not exist in real DNS; only the guard's resolver knows it. If the HTTP client
    // resolved the host again, the request would fail.
    let calls = 0;
    const guard = new SsrfGuard(['127.0.0.1'], () => {
      calls += 1;
      return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    });
    const sender = new WebhookSender(guard, 2000);
    const r = await sender.post(`http://rebind.invalid:${receiver.port}/pinned`, { 'webhook-id': 'msg_pin' }, '{}');
    expect(r).toMatchObject({ status: 204, error: null });
    expect(calls).toBe(1);
    expect(receiver.requests.find((x) => x.id === 'msg_pin')?.headers.host).toBe(`rebind.invalid:${receiver.port}`);
  });

  it('refuses before connecting when the address is not allowed', async () => {
    const sender = new WebhookSender(new SsrfGuard([]), 2000);
    const before = receiver.requests.length;
    const r = await sender.post(`${receiver.url}/x`, {}, '{}');
    expect(r.status).toBeNull();
    expect(r.error).toMatch(/refused: .*loopback/);
    expect(receiver.requests.length).toBe(before);
  });

  it('does not follow redirects', async () => {
    receiver.respond = (_id, _n, path) => (path === '/redirect' ? { status: 302, headers: { location: '/elsewhere' } } : 204);
    const sender = new WebhookSender(new SsrfGuard(['127.0.0.1']), 2000);
    const r = await sender.post(`${receiver.url}/redirect`, { 'webhook-id': 'msg_redirect' }, '{}');
    expect(r.status).toBe(302);
    expect(receiver.requests.filter((x) => x.path === '/elsewhere')).toHaveLength(0);
    receiver.respond = () => 204;
  });

  it('times out a receiver that does not answer', async () => {
    receiver.delayMs = 1500;
    const sender = new WebhookSender(new SsrfGuard(['127.0.0.1']), 300);
    const r = await sender.post(`${receiver.url}/slow`, {}, '{}');
    receiver.delayMs = 0;
    expect(r.status).toBeNull();
    expect(r.error).toMatch(/timed out/);
  });
});
