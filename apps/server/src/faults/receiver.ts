import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Receipt {
  /** The webhook-id header: the delivery id, the same on every retry of one alert. */
  readonly deliveryId: string;
  /** The matched event's id from the signed body (`data.event.id`), or '' for other alerts. */
  readonly eventId: string;
  readonly status: number;
  readonly at: number;
}

/**
 * A webhook receiver on 127.0.0.1 for the fault tests: records every request and counts the deliveries
 * it accepted (2xx) per delivery id and per event id, so an alert sent twice or never shows up.
 */
export class WebhookReceiver {
  readonly receipts: Receipt[] = [];
  /** Status for the n-th request (1-based) of a delivery id. */
  respond: (deliveryId: string, n: number) => number = () => 204;
  delayMs = 0;

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    const box: { self: WebhookReceiver | null } = { self: null };
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r = box.self as WebhookReceiver;
        const deliveryId = String(req.headers['webhook-id'] ?? '');
        let eventId = '';
        try {
          eventId = String(
            (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { event?: { id?: string } } })
              .data?.event?.id ?? '',
          );
        } catch {
          // not JSON: counted under ''
        }
        const n = r.receipts.filter((x) => x.deliveryId === deliveryId).length + 1;
        const status = r.respond(deliveryId, n);
        r.receipts.push({ deliveryId, eventId, status, at: Date.now() });
        setTimeout(() => {
          res.writeHead(status);
          res.end();
        }, r.delayMs).unref();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    box.self = new WebhookReceiver(server, `http://127.0.0.1:${port}`);
    return box.self;
  }

  /** Accepted (2xx) receipts per key. */
  accepted(by: 'deliveryId' | 'eventId'): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.receipts) {
      if (r.status >= 200 && r.status < 300) out.set(r[by], (out.get(r[by]) ?? 0) + 1);
    }
    return out;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
