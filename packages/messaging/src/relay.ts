import type { StoredEvent } from '@regstream/domain';
import type { Publisher } from './types';

/** The part of the event store the relay needs (structural, so messaging does not depend on it). */
export interface OutboxSource {
  claimOutbox(limit: number): Promise<{ events: StoredEvent[]; ack: () => Promise<void>; release: () => Promise<void> } | null>;
}

export interface RelayStats {
  relayed: number;
  batches: number;
  failures: number;
  lastError: string | null;
}

export interface RelayOptions {
  readonly batchSize?: number;
  readonly idleMs?: number;
  readonly maxBackoffMs?: number;
  readonly onRelayed?: (events: readonly StoredEvent[]) => void;
  readonly onError?: (e: unknown) => void;
}

/**
 * Moves committed events from the outbox to the distribution log. An event leaves the outbox only
 * after the broker acknowledged it, so a crash or an outage at any point loses nothing; it may
 * publish twice, and consumers de-duplicate by event id.
 */
export class OutboxRelay {
  readonly stats: RelayStats = { relayed: 0, batches: 0, failures: 0, lastError: null };
  private running = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;

  constructor(
    private readonly source: OutboxSource,
    private readonly publisher: Publisher,
    private readonly opts: RelayOptions = {},
  ) {}

  /** Relays until the outbox is empty; returns how many events went out. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.relayOnce();
      if (n === 0) return total;
      total += n;
    }
  }

  async relayOnce(): Promise<number> {
    const batch = await this.source.claimOutbox(this.opts.batchSize ?? 500);
    if (!batch) return 0;
    try {
      await this.publisher.publish(batch.events);
    } catch (e) {
      await batch.release();
      throw e;
    }
    await batch.ack();
    this.stats.relayed += batch.events.length;
    this.stats.batches += 1;
    this.opts.onRelayed?.(batch.events);
    return batch.events.length;
  }

  /** Nudges an idle relay after an append, so live lag is not bounded by the poll interval. */
  wake(): void {
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      let backoff = 100;
      while (this.running) {
        try {
          const n = await this.relayOnce();
          backoff = 100;
          if (n > 0) continue;
        } catch (e) {
          this.stats.failures += 1;
          this.stats.lastError = e instanceof Error ? e.message : String(e);
          this.opts.onError?.(e);
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
          continue;
        }
        await new Promise<void>((r) => {
          this.wakeUp = r;
          setTimeout(r, this.opts.idleMs ?? 200).unref?.();
        });
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake();
    await this.loop;
    this.loop = null;
  }
}
