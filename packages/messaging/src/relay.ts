import type { StoredEvent } from '@regstream/domain';
import type { Publisher } from './types';

/** A claimed batch (structurally the event store's OutboxBatch, so messaging does not depend on it). */
export interface OutboxClaim {
  readonly events: StoredEvent[];
  ack(): Promise<void>;
  release(): Promise<void>;
  /** The rows after this batch, claimed while it is out; published only after it was acked. */
  claimNext?(limit: number): Promise<OutboxClaim | null>;
}

/** The part of the event store the relay needs. */
export interface OutboxSource {
  claimOutbox(limit: number): Promise<OutboxClaim | null>;
}

export interface RelayStats {
  relayed: number;
  batches: number;
  failures: number;
  lastError: string | null;
}

export interface RelayOptions {
  readonly batchSize?: number;
  /** Poll interval while the outbox is empty (default 200 ms). */
  readonly idleMs?: number;
  /**
   * With a wake-up on every append (`wake()`, e.g. from an `OutboxListener`): the poll interval once
   * wake-ups are seen to announce rows, as a fallback for a lost one. A poll that finds rows nobody
   * announced (a writer that does not notify, a dropped connection) returns to `idleMs` until a
   * wake-up announces rows again. Unset: always `idleMs`.
   */
  readonly notifiedIdleMs?: number;
  /**
   * After a look that moved some rows but not a whole batch, the next look starts no sooner than this
   * after it (default 0). With a wake-up per append, a busy ingest would otherwise cost a claim, a
   * produce and a commit per append; this gathers what arrives meanwhile into one batch, for at most
   * this much latency, and only while rows keep coming.
   */
  readonly coalesceMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * Claim the next batch while the previous one is being published, when the outbox supports it
   * (`claimNext`) and the previous batch was full (default true). Batches are still published one
   * after the other, each only after the one before it was acknowledged and removed.
   */
  readonly pipeline?: boolean;
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
  /** Set by wake(), cleared before each look at the outbox: a wake-up during a look is never lost. */
  private woken = false;
  /** Whether wake-ups are trusted to announce new rows (see `notifiedIdleMs`). */
  private notified = false;
  /** Ends a `coalesceMs` pause early when the relay stops. */
  private stopping: (() => void) | null = null;
  /** The batch claimed while the previous one was published (see `pipeline`); the next to publish. */
  private ahead: Promise<OutboxClaim | null> | null = null;

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
    const limit = this.opts.batchSize ?? 500;
    const claimed = this.takeAheadNow();
    // Without a batch ahead the claim starts synchronously, as the relay's first look always did.
    const batch = (claimed ? await claimed : null) ?? (await this.source.claimOutbox(limit));
    if (!batch) return 0;
    // Only behind a full batch: a short one means the outbox is drained, and a batch claimed ahead
    // would then hold the few rows that arrive meanwhile instead of gathering them (see coalesceMs).
    const ahead = this.opts.pipeline !== false && batch.events.length >= limit && batch.claimNext ? this.claimAhead(batch.claimNext(limit)) : null;
    try {
      await this.publisher.publish(batch.events);
    } catch (e) {
      try {
        await batch.release();
      } finally {
        await this.dropAhead(ahead);
      }
      throw e;
    }
    try {
      await batch.ack();
    } catch (e) {
      // Unknown whether the rows are gone: if not, they are published again, and the next batch must
      // not overtake them.
      await this.dropAhead(ahead);
      throw e;
    }
    this.ahead = ahead;
    this.stats.relayed += batch.events.length;
    this.stats.batches += 1;
    this.opts.onRelayed?.(batch.events);
    return batch.events.length;
  }

  /** A claim ahead that fails only costs the pipelining: the next look claims afresh. */
  private claimAhead(claim: Promise<OutboxClaim | null>): Promise<OutboxClaim | null> {
    return claim.catch((e: unknown) => {
      this.opts.onError?.(e);
      return null;
    });
  }

  private async dropAhead(ahead: Promise<OutboxClaim | null> | null): Promise<void> {
    const batch = ahead ? await ahead : null;
    await batch?.release().catch((e: unknown) => this.opts.onError?.(e));
  }

  /**
   * Nudges the relay after an append, so live lag is not bounded by the poll interval. A nudge while
   * the relay is busy makes it look again as soon as it is done.
   */
  wake(): void {
    this.woken = true;
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** The current poll interval while idle (see `notifiedIdleMs`). */
  get pollMs(): number {
    const polling = this.opts.idleMs ?? 200;
    return this.notified ? (this.opts.notifiedIdleMs ?? polling) : polling;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      let backoff = 100;
      // Why the relay is looking: a wake-up, the poll timer, or still draining.
      let cause: 'wake' | 'poll' | 'drain' = 'poll';
      // When the next look may start (see coalesceMs).
      let notBefore = 0;
      while (this.running) {
        const gap = notBefore - Date.now();
        if (gap > 0) await this.pause(gap);
        if (!this.running) break;
        this.woken = false;
        const started = Date.now();
        notBefore = 0;
        try {
          const n = await this.relayOnce();
          backoff = 100;
          if (n > 0) {
            if (n < (this.opts.batchSize ?? 500)) notBefore = started + (this.opts.coalesceMs ?? 0);
            if (cause === 'wake') this.notified = true;
            else if (cause === 'poll') this.notified = false;
            cause = this.woken ? 'wake' : 'drain';
            continue;
          }
        } catch (e) {
          this.stats.failures += 1;
          this.stats.lastError = e instanceof Error ? e.message : String(e);
          this.opts.onError?.(e);
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 5000);
          continue;
        }
        if (this.woken) {
          cause = 'wake';
          continue;
        }
        cause = await new Promise<'wake' | 'poll'>((r) => {
          const timer = setTimeout(() => {
            this.wakeUp = null;
            r('poll');
          }, this.pollMs);
          timer.unref?.();
          this.wakeUp = () => {
            clearTimeout(timer);
            r('wake');
          };
        });
      }
    })();
  }

  /** Sleeps `ms`, or less if the relay is stopped meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((r) => {
      const timer = setTimeout(() => {
        this.stopping = null;
        r();
      }, ms);
      timer.unref?.();
      this.stopping = () => {
        clearTimeout(timer);
        r();
      };
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    const s = this.stopping;
    this.stopping = null;
    s?.();
    this.wake();
    await this.loop;
    this.loop = null;
    await this.dropAhead(this.takeAheadNow());
  }

  private takeAheadNow(): Promise<OutboxClaim | null> | null {
    const ahead = this.ahead;
    this.ahead = null;
    return ahead;
  }
}
