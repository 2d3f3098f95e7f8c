import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly id: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly status: number;
  readonly at: number;
  readonly path: string;
}

/** A real HTTP receiver on 127.0.0.1 that records every request and answers as told. */
export class Receiver {
  readonly requests: Received[] = [];
  /** Status for the n-th request (1-based) carrying this webhook-id. */
  respond: (id: string, n: number, path: string) => number | { status: number; headers?: Record<string, string> } = () => 204;
  delayMs = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<Receiver> {
    let self: Receiver | null = null;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = self as Receiver;
        const id = String(req.headers['webhook-id'] ?? '');
        const n = r.requests.filter((x) => x.id === id).length + 1;
        const answer = r.respond(id, n, req.url ?? '/');
        const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : { status: answer.status, headers: answer.headers ?? {} };
        r.requests.push({ id, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status, at: Date.now(), path: req.url ?? '/' });
        setTimeout(() => {
          res.writeHead(status, headers);
          res.end();
        }, r.delayMs).unref();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    self = new Receiver(server, `http://127.0.0.1:${port}`);
    return self;
  }

  get port(): number {
    return Number(new URL(this.url).port);
  }

  /** Requests answered with a 2xx, per webhook-id. */
  successes(): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.requests) if (r.status >= 200 && r.status < 300) out.set(r.id, (out.get(r.id) ?? 0) + 1);
    return out;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
