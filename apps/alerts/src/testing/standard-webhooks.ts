/**
 * An independent verifier of the Standard Webhooks scheme, written from the specification
 * (standard-webhooks.md, "Verifying webhook authenticity"), not from regstream's signer. It uses WebCrypto
 * rather than node:crypto's createHmac so that the two share no code path.
 *
 *  - signed content: `${webhook-id}.${webhook-timestamp}.${body}`
 *  - key: the secret without its `whsec_` prefix, base64-decoded
 *  - signature: base64(HMAC-SHA256(key, content)), sent as `v1,<sig>`; several are space-delimited
 *  - the timestamp must be within the tolerance (5 minutes) of the receiver's clock
 */
export interface VerifyInput {
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function header(h: VerifyInput['headers'], name: string): string {
  const v = h[name];
  if (typeof v !== 'string' || v === '') throw new Error(`missing ${name}`);
  return v;
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(bytes: ArrayBuffer): string {
  let bin = '';
  for (const b of new Uint8Array(bytes)) bin += String.fromCharCode(b);
  return btoa(bin);
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export async function expectedSignature(secret: string, id: string, timestamp: string, body: string): Promise<string> {
  if (!secret.startsWith('whsec_')) throw new Error('secret must start with whsec_');
  const keyBytes = fromBase64(secret.slice('whsec_'.length));
  const key = await crypto.subtle.importKey('raw', keyBytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return toBase64(mac);
}

/** True when any `v1` signature in the header verifies with `secret` and the timestamp is fresh. */
export async function verifyStandardWebhook(secret: string, input: VerifyInput, nowSeconds = Math.floor(Date.now() / 1000), toleranceSeconds = 300): Promise<boolean> {
  const id = header(input.headers, 'webhook-id');
  const timestamp = header(input.headers, 'webhook-timestamp');
  const signatures = header(input.headers, 'webhook-signature');
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > toleranceSeconds) return false;
  const expected = await expectedSignature(secret, id, timestamp, input.body);
  return signatures.split(' ').some((part) => {
    const [version, sig] = part.split(',', 2);
    return version === 'v1' && sig !== undefined && constantTimeEqual(sig, expected);
  });
}

/** The signatures in a header, for counting them during a rotation window. */
export function signaturesIn(value: string | string[] | undefined): string[] {
  return typeof value === 'string' ? value.split(' ').filter(Boolean) : [];
}
