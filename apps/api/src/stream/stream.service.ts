import { Inject, Injectable, Logger, type OnModuleDestroy, Optional } from '@nestjs/common';
import type { StoredEvent } from '@regstream/domain';
import type { Checkpoint, EventStore } from '@regstream/event-store';
import { CLOCK, EVENT_STORE, INFRA, type Infrastructure } from '@regstream/runtime';
import type { Response } from 'express';
import { QueriesService } from '../queries.service';
import { tailCheckpoint } from './tail';

export const STREAM_OPTIONS = Symbol('STREAM_OPTIONS');

export interface StreamOptions {
  /** How often the log is polled for new events (ms). */
  readonly pollMs?: number;
  readonly heartbeatMs?: number;
  /** How long to wait for the projector to apply stance changes before checking the index (ms). */
  readonly settleMs?: number;
}

interface Client {
  readonly res: Response;
  cp: Checkpoint;
  pumping: boolean;
  again: boolean;
}

/** Event types that can move the divergence index. */
const INDEX_TYPES = new Set(['StanceCoded', 'RecordCorrected', 'RecordRetracted', 'CodebookPublished']);
const MAX_BUFFERED = 4 * 1024 * 1024;

/**
 * Server-sent events: every client tails the event log from its own checkpoint (so a reconnect with
 * Last-Event-ID resumes exactly), woken by one shared poller. When stance-related events arrive and the
 * projector has applied them, the divergence index is compared with the last one sent and a
 * `divergence.changed` event goes to every client. Works the same in embedded and distributed mode.
 */
@Injectable()
export class StreamService implements OnModuleDestroy {
  private readonly logger = new Logger('Stream');
  private readonly clients = new Set<Client>();
  private timer: NodeJS.Timeout | null = null;
  private heartbeat: NodeJS.Timeout | null = null;
  private hub: Checkpoint | null = null;
  private polling = false;
  private lastIndex: { text: string; pairs: Map<string, number | null> } | null = null;
  private indexCheck: Promise<void> = Promise.resolve();
  private readonly pollMs: number;
  private readonly heartbeatMs: number;
  private readonly settleMs: number;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(INFRA) private readonly infra: Infrastructure,
    @Inject(CLOCK) private readonly clock: () => Date,
    private readonly queries: QueriesService,
    @Optional() @Inject(STREAM_OPTIONS) options: StreamOptions | null,
  ) {
    this.pollMs = options?.pollMs ?? 250;
    this.heartbeatMs = options?.heartbeatMs ?? 15_000;
    this.settleMs = options?.settleMs ?? 10_000;
  }

  get size(): number {
    return this.clients.size;
  }

  /** The checkpoint new clients start from: the log's tail now. */
  async tail(): Promise<Checkpoint> {
    return tailCheckpoint(this.store, this.infra.dataSource);
  }

  async subscribe(res: Response, from: Checkpoint | null): Promise<void> {
    await this.start();
    const client: Client = { res, cp: from ?? (await this.tail()), pumping: false, again: false };
    this.clients.add(client);
    res.on('close', () => this.clients.delete(client));
    res.write(`retry: 2000\n\n`);
    if (from) void this.pump(client);
  }

  private async start(): Promise<void> {
    if (this.timer) return;
    this.hub = await this.tail();
    this.lastIndex = await this.index().catch(() => null);
    this.timer = setInterval(() => void this.poll(), this.pollMs);
    this.timer.unref?.();
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) this.send(c, `: keep-alive ${this.clock().toISOString()}\n\n`);
    }, this.heartbeatMs);
    this.heartbeat.unref?.();
  }

  private stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.timer = null;
    this.heartbeat = null;
  }

  onModuleDestroy(): void {
    this.stop();
    for (const c of this.clients) c.res.end();
    this.clients.clear();
  }

  private send(c: Client, text: string): void {
    if (c.res.writableLength > MAX_BUFFERED) {
      // A client that does not read is dropped; it reconnects with Last-Event-ID and loses nothing.
      this.clients.delete(c);
      c.res.end();
      return;
    }
    c.res.write(text);
  }

  private async poll(): Promise<void> {
    if (this.polling || !this.hub) return;
    this.polling = true;
    try {
      if (this.clients.size === 0) {
        this.stop();
        return;
      }
      const indexEvents: StoredEvent[] = [];
      let fresh = false;
      for (;;) {
        const page = await this.store.readAll(this.hub, 1000);
        if (page.events.length === 0) break;
        fresh = true;
        this.hub = page.checkpoint;
        for (const e of page.events) if (INDEX_TYPES.has(e.type)) indexEvents.push(e);
      }
      if (fresh) for (const c of this.clients) void this.pump(c);
      if (indexEvents.length > 0) this.indexCheck = this.indexCheck.then(() => this.checkIndex(indexEvents));
    } catch (e) {
      this.logger.warn(`stream poll failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.polling = false;
    }
  }

  /** Sends each client the log from its checkpoint up to the tail. */
  private async pump(c: Client): Promise<void> {
    if (c.pumping) {
      c.again = true;
      return;
    }
    c.pumping = true;
    try {
      do {
        c.again = false;
        for (;;) {
          if (!this.clients.has(c)) return;
          const page = await this.store.readAll(c.cp, 500);
          if (page.events.length === 0) break;
          for (const e of page.events) this.send(c, `id: ${e.position}\nevent: regstream.event\ndata: ${JSON.stringify(e)}\n\n`);
          c.cp = page.checkpoint;
        }
      } while (c.again);
    } catch (e) {
      this.logger.warn(`stream to a client failed: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      c.pumping = false;
    }
  }

  private async index(): Promise<{ text: string; pairs: Map<string, number | null>; body: Record<string, unknown> }> {
    const d = await this.queries.divergence({});
    const pairs = new Map(d.pairs.map((p) => [`${p.a}|${p.b}`, p.value]));
    const body = { asOf: d.asOf, codebookVersion: d.codebookVersion, methodologyVersion: d.methodologyVersion, jurisdictions: d.jurisdictions, global: d.global, pairs: d.pairs.map((p) => ({ a: p.a, b: p.b, value: p.value })) };
    return { text: JSON.stringify([d.global.value, d.global.dispersion, [...pairs]]), pairs, body };
  }

  /** After the projector applied them, compares the index with the last one sent. */
  private async checkIndex(events: readonly StoredEvent[]): Promise<void> {
    const ids = events.map((e) => e.id);
    const deadline = Date.now() + this.settleMs;
    while (Date.now() < deadline) {
      if ((await this.queries.settled(ids)) >= new Set(ids).size) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const now = await this.index();
    const before = this.lastIndex;
    if (before && before.text === now.text) return;
    this.lastIndex = now;
    const last = events[events.length - 1] as StoredEvent;
    const changed = [...now.pairs].filter(([k, v]) => before?.pairs.get(k) !== v).map(([k, v]) => {
      const [a, b] = k.split('|');
      return { a, b, previous: before?.pairs.get(k) ?? null, value: v };
    });
    const data = { ...now.body, changed, causedBy: ids, freshness: await this.queries.freshness(this.queries.db, await this.queries.resolveModel(this.queries.db)) };
    for (const c of this.clients) this.send(c, `id: ${last.position}\nevent: divergence.changed\ndata: ${JSON.stringify(data)}\n\n`);
  }
}
