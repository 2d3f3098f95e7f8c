import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { performance } from 'node:perf_hooks';
import { pinnedLookup, type SsrfGuard, WebhookUrlRefused } from './ssrf';

export interface SendResult {
  /** HTTP status, or null when no response came (refused, DNS, connect, timeout). */
  readonly status: number | null;
  readonly latencyMs: number;
  readonly error: string | null;
}

/**
 * POSTs one webhook: checks the URL (SSRF) on every attempt, connects to the checked address,
 * never follows redirects (Node's http client does not), and reads at most 64 KiB of the answer.
 */
export class WebhookSender {
  constructor(
    private readonly guard: SsrfGuard,
    private readonly timeoutMs: number,
  ) {}

  async post(url: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let target;
    try {
      target = await this.guard.check(url);
    } catch (e) {
      return { status: null, latencyMs: elapsed(), error: e instanceof WebhookUrlRefused ? `refused: ${e.reason}` : String(e) };
    }
    const request = target.url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const done = (r: SendResult) => {
        if (settled) return;
        settled = true;
        resolve(r);
      };
      const req = request(
        target.url,
        {
          method: 'POST',
          lookup: pinnedLookup(target.addresses),
          agent: false,
          timeout: this.timeoutMs,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'user-agent': 'regstream-webhooks/1',
          },
        },
        (res) => {
          let seen = 0;
          res.on('data', (chunk: Buffer) => {
            seen += chunk.length;
            if (seen > 65536) res.destroy();
          });
          const finish = () => done({ status: res.statusCode ?? null, latencyMs: elapsed(), error: null });
          res.on('end', finish);
          res.on('close', finish);
          res.on('error', finish);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.timeoutMs} ms`)));
      req.on('error', (e) => done({ status: null, latencyMs: elapsed(), error: e.message }));
      req.end(body);
    });
  }
}
