import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';

/**
 * SSRF guard for webhook URLs. Only http(s); the host is resolved and every address must be public
 * (or named by the operator allow-list); the request then connects to the checked address, so a DNS
 * answer that changes between check and connect (rebinding) cannot redirect it.
 */

export class WebhookUrlRefused extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'WebhookUrlRefused';
  }
}

export interface CheckedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

export interface CheckedTarget {
  readonly url: URL;
  readonly addresses: readonly CheckedAddress[];
}

export type Resolver = (host: string) => Promise<CheckedAddress[]>;

const systemResolver: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** Ranges refused unless allow-listed, with the reason given back to the user. Most specific first. */
const V4_RANGES: readonly [string, number, string][] = [
  ['169.254.169.254', 32, 'cloud metadata address'],
  ['0.0.0.0', 8, '"this network" address (0.0.0.0/8)'],
  ['10.0.0.0', 8, 'private address (10.0.0.0/8)'],
  ['100.64.0.0', 10, 'carrier-grade NAT address (100.64.0.0/10)'],
  ['127.0.0.0', 8, 'loopback address'],
  ['169.254.0.0', 16, 'link-local address (169.254.0.0/16)'],
  ['172.16.0.0', 12, 'private address (172.16.0.0/12)'],
  ['192.0.0.0', 24, 'IETF protocol assignment (192.0.0.0/24)'],
  ['192.168.0.0', 16, 'private address (192.168.0.0/16)'],
  ['198.18.0.0', 15, 'benchmarking address (198.18.0.0/15)'],
  ['224.0.0.0', 4, 'multicast address'],
  ['240.0.0.0', 4, 'reserved address (240.0.0.0/4)'],
];
const V6_RANGES: readonly [string, number, string][] = [
  ['fd00:ec2::254', 128, 'cloud metadata address'],
  ['::', 128, 'unspecified address'],
  ['::1', 128, 'loopback address'],
  ['fc00::', 7, 'unique-local (private) address (fc00::/7)'],
  ['fe80::', 10, 'link-local address (fe80::/10)'],
  ['fec0::', 10, 'site-local address (fec0::/10)'],
  ['ff00::', 8, 'multicast address'],
];

function blockOf(address: string, prefix: number, family: 'ipv4' | 'ipv6'): BlockList {
  const b = new BlockList();
  b.addSubnet(address, prefix, family);
  return b;
}
const V4_BLOCKS = V4_RANGES.map(([a, p, why]) => ({ list: blockOf(a, p, 'ipv4'), why }));
const V6_BLOCKS = V6_RANGES.map(([a, p, why]) => ({ list: blockOf(a, p, 'ipv6'), why }));

function parseIpv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return out.every((n) => Number.isInteger(n) && n >= 0 && n <= 255) ? out : null;
}

/** 16 bytes of an IPv6 address (zone id dropped), or null. */
export function parseIpv6(input: string): number[] | null {
  let s = input.split('%')[0] ?? '';
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const v4 = parseIpv4(dotted[2] as string);
    if (!v4) return null;
    const [a, b, c, d] = v4 as [number, number, number, number];
    s = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  const missing = 8 - head.length - tail.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return null;
  const groups = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => '0'), ...tail];
  const bytes: number[] = [];
  for (const g of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return null;
    const n = parseInt(g, 16);
    bytes.push(n >> 8, n & 0xff);
  }
  return bytes.length === 16 ? bytes : null;
}

const zero = (bytes: number[], from: number, to: number) => bytes.slice(from, to).every((b) => b === 0);

/** The IPv4 address an IPv6 address carries (mapped, compatible, SIIT, NAT64, 6to4), if any. */
export function embeddedIpv4(v6: string): string | null {
  const b = parseIpv6(v6);
  if (!b) return null;
  const v4 = (i: number) => b.slice(i, i + 4).join('.');
  if (zero(b, 0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d
  if (zero(b, 0, 8) && b[8] === 0xff && b[9] === 0xff && zero(b, 10, 12)) return v4(12); // ::ffff:0:a.b.c.d
  if (zero(b, 0, 12)) return v4(12); // ::a.b.c.d (deprecated compatible form)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(b, 4, 12)) return v4(12); // NAT64
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 6to4
  return null;
}

/** Operator allow-list: comma-separated IPs or CIDRs, IPv4 or IPv6. */
export function parseAllowlist(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const raw of entries.flatMap((e) => e.split(',')).map((e) => e.trim()).filter(Boolean)) {
    const [addr, prefixText] = raw.split('/') as [string, string | undefined];
    const family = isIP(addr);
    if (family === 0) throw new Error(`REGSTREAM_WEBHOOK_ALLOWLIST: '${raw}' is not an IP address or CIDR`);
    const type = family === 4 ? 'ipv4' : 'ipv6';
    if (prefixText === undefined) {
      list.addAddress(addr, type);
    } else {
      const prefix = Number(prefixText);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
        throw new Error(`REGSTREAM_WEBHOOK_ALLOWLIST: '${raw}' has an invalid prefix length`);
      }
      list.addSubnet(addr, prefix, type);
    }
  }
  return list;
}

/** Why an address is refused, or null when it may be called. */
export function refusalReason(address: string, allow: BlockList): string | null {
  const family = isIP(address);
  if (family === 0) return `'${address}' is not an IP address`;
  if (family === 4) {
    if (allow.check(address, 'ipv4')) return null;
    return V4_BLOCKS.find((b) => b.list.check(address, 'ipv4'))?.why ?? null;
  }
  if (allow.check(address, 'ipv6')) return null;
  const own = V6_BLOCKS.find((b) => b.list.check(address, 'ipv6'))?.why;
  if (own) return own;
  const v4 = embeddedIpv4(address);
  if (v4 !== null) {
    if (allow.check(v4, 'ipv4')) return null;
    const inner = V4_BLOCKS.find((b) => b.list.check(v4, 'ipv4'))?.why;
    if (inner) return `IPv6 address embedding a ${inner} (${v4})`;
  }
  return null;
}

export class SsrfGuard {
  private readonly allow: BlockList;

  constructor(
    allowlist: readonly string[],
    private readonly resolver: Resolver = systemResolver,
  ) {
    this.allow = parseAllowlist(allowlist);
  }

  /** Checks the URL and resolves it; every address must pass. */
  async check(raw: string): Promise<CheckedTarget> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new WebhookUrlRefused('not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new WebhookUrlRefused(`scheme '${url.protocol.replace(/:$/, '')}' is not allowed; use http or https`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (host === '') throw new WebhookUrlRefused('the URL has no host');
    let addresses: CheckedAddress[];
    const literal = isIP(host);
    if (literal !== 0) {
      addresses = [{ address: host, family: literal === 6 ? 6 : 4 }];
    } else {
      try {
        addresses = await this.resolver(host);
      } catch (e) {
        throw new WebhookUrlRefused(`cannot resolve host '${host}': ${e instanceof Error ? e.message : String(e)}`);
      }
      if (addresses.length === 0) throw new WebhookUrlRefused(`host '${host}' has no address`);
    }
    for (const a of addresses) {
      const why = refusalReason(a.address, this.allow);
      if (why !== null) throw new WebhookUrlRefused(`host '${host}' resolves to ${a.address}: ${why}; not allowed for webhooks`);
    }
    return { url, addresses };
  }
}

/** A `lookup` for http.request that only ever answers with the checked addresses. */
export function pinnedLookup(addresses: readonly CheckedAddress[]): LookupFunction {
  return (_hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void) => {
    const wanted = options.family === 4 || options.family === 6 ? addresses.filter((a) => a.family === options.family) : [...addresses];
    const first = wanted[0];
    if (!first) {
      const err: NodeJS.ErrnoException = new Error('no checked address of the requested family');
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
      return;
    }
    if (options.all) callback(null, wanted.map((a) => ({ address: a.address, family: a.family })));
    else callback(null, first.address, first.family);
  };
}
