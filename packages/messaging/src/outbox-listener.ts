import { Client, type Notification } from 'pg';

/** The channel PostgreSQL notifies when outbox rows are committed (the event store sends it after an append). */
export const OUTBOX_CHANNEL = 'regstream_outbox';

export interface OutboxListenerOptions {
  readonly connectionString: string;
  readonly channel?: string;
  /** First wait before reconnecting after the connection failed; doubles up to `maxBackoffMs`. */
  readonly retryMs?: number;
  readonly maxBackoffMs?: number;
  readonly onError?: (e: unknown) => void;
}

export interface OutboxListenerStats {
  notifications: number;
  connects: number;
  failures: number;
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * LISTENs for outbox notifications on a dedicated PostgreSQL connection (a pooled one could be
 * handed to another query, and LISTEN belongs to the session) and calls `onNotify` for each, so the
 * relay moves an append at once instead of at its next poll. A failed connection is replaced, with
 * backoff; after every (re)connection `onNotify` is called once too, because notifications sent
 * while nobody listened are gone. The relay's own poll stays the fallback.
 */
export class OutboxListener {
  readonly stats: OutboxListenerStats = { notifications: 0, connects: 0, failures: 0 };
  private client: Client | null = null;
  private running = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private backoff: number;

  constructor(
    private readonly opts: OutboxListenerOptions,
    private readonly onNotify: () => void,
  ) {
    this.backoff = opts.retryMs ?? 200;
  }

  get channel(): string {
    return this.opts.channel ?? OUTBOX_CHANNEL;
  }

  /** Whether a connection is listening right now. */
  get listening(): boolean {
    return this.client !== null;
  }

  /** Starts listening; resolves after the first attempt (a failed one goes on retrying in the background). */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.opts.connectionString, connectionTimeoutMillis: 10_000, keepAlive: true, keepAliveInitialDelayMillis: 10_000 });
    let dead = false;
    const fail = (e: unknown) => {
      if (dead) return;
      dead = true;
      if (this.client === client) this.client = null;
      void client.end().catch(() => undefined);
      if (!this.running) return;
      this.stats.failures += 1;
      this.opts.onError?.(e);
      this.reconnectLater();
    };
    // An idle connection's failure is emitted, not thrown; unhandled it would end the process.
    client.on('error', fail);
    client.on('end', () => fail(new Error(`the LISTEN ${this.channel} connection closed`)));
    client.on('notification', (n: Notification) => {
      if (n.channel !== this.channel) return;
      this.stats.notifications += 1;
      this.onNotify();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(this.channel)}`);
    } catch (e) {
      fail(e);
      return;
    }
    if (dead) return;
    if (!this.running) {
      dead = true;
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.stats.connects += 1;
    this.backoff = this.opts.retryMs ?? 200;
    this.onNotify();
  }

  private reconnectLater(): void {
    if (this.retryTimer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.backoff * 2, this.opts.maxBackoffMs ?? 5000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.running) void this.connect();
    }, wait);
  }
}
