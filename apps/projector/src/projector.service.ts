import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, Optional } from '@nestjs/common';
import { consumerGroupId } from '@regstream/config';
import type { EventStore } from '@regstream/event-store';
import type { EventSource, SourceBatch } from '@regstream/messaging';
import { type BatchOutcome, Projector, type RebuildOptions, type RebuildProgress, type RebuildResult } from '@regstream/projections';
import { CLOCK, EVENT_STORE, INFRA, type Infrastructure } from '@regstream/runtime';

export const PROJECTOR_OPTIONS = Symbol('PROJECTOR_OPTIONS');

export interface ProjectorModuleOptions {
  /** Consume the distribution log in this process (default true). */
  readonly subscribe?: boolean;
  /**
   * Consumer group; every member of the group shares the partitions. Default: REGSTREAM_PROJECTOR_GROUP_ID,
   * else `projector.<topic>` (the checkpoints are keyed by projector name, not by group, so a new
   * group resumes from them).
   */
  readonly groupId?: string;
}

export interface ProjectorStats {
  batches: number;
  applied: number;
  duplicates: number;
  skipped: number;
  deadLettered: number;
  failures: number;
  lastError: string | null;
  lastBatchAt: string | null;
  /** Milliseconds spent in applyBatch (the database transaction included), in total and for the last batch. */
  applyMs: number;
  lastApplyMs: number;
  /** Milliseconds batches waited for another partition's batch to be applied first. */
  waitMs: number;
  /** Transactions: batches of the partitions that arrived meanwhile are applied together. */
  transactions: number;
}

interface Pending {
  readonly batch: SourceBatch;
  readonly queued: number;
  readonly resolve: (o: BatchOutcome) => void;
  readonly reject: (e: unknown) => void;
}

/** Events per transaction when batches are taken together (a partition's batch is never split). */
const GROUP_EVENTS = 5000;

export type BatchListener = (outcome: BatchOutcome) => void;

/**
 * Keeps the read models: joins the projector consumer group on the distribution log (Kafka or the
 * in-process bus) with the checkpoints stored beside the read models, and applies each batch in one
 * transaction. Also runs rebuilds for operators.
 *
 * The source hands over the partitions' batches concurrently, but they are applied one at a time:
 * applyBatch recomputes keys shared across partitions (a jurisdiction's stances, an event corrected
 * from another stream) from what its transaction reads, and two such transactions at once lose one
 * another's facts or collide on a key (apps/projector/src/concurrency.int.spec.ts).
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Projector');
  readonly projector: Projector;
  readonly stats: ProjectorStats = {
    batches: 0,
    applied: 0,
    duplicates: 0,
    skipped: 0,
    deadLettered: 0,
    failures: 0,
    lastError: null,
    lastBatchAt: null,
    applyMs: 0,
    lastApplyMs: 0,
    waitMs: 0,
    transactions: 0,
  };
  private source: EventSource | null = null;
  private readonly pending: Pending[] = [];
  private draining = false;
  private drainScheduled = false;
  private readonly listeners = new Set<BatchListener>();
  private rebuilding: { options: RebuildOptions; progress: RebuildProgress | null; result: RebuildResult | null; error: string | null } | null = null;
  private rebuildRun: { abort: AbortController; done: Promise<void> } | null = null;

  constructor(
    @Inject(INFRA) private readonly infra: Infrastructure,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: () => Date,
    @Optional() @Inject(PROJECTOR_OPTIONS) private readonly options: ProjectorModuleOptions | null,
  ) {
    this.projector = new Projector(infra.dataSource, { clock });
  }

  /** Called after every applied batch (in-process listeners, e.g. live updates). */
  onBatch(listener: BatchListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Applies one batch, after any batch already being applied (see the class comment); batches of other
   * partitions that arrive meanwhile are applied with it, in one transaction.
   */
  handle(batch: SourceBatch): Promise<BatchOutcome> {
    return new Promise<BatchOutcome>((resolve, reject) => {
      this.pending.push({ batch, queued: performance.now(), resolve, reject });
      this.scheduleDrain();
    });
  }

  /**
   * Starts draining after the current turn of the event loop, not at the first batch: a Kafka fetch
   * hands every partition's batch over in one turn, and they are then applied in one transaction
   * instead of the first alone and the rest after it (two transactions, two commits, per fetch).
   */
  private scheduleDrain(): void {
    if (this.draining || this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pending.length > 0) {
        let events = 0;
        let n = 0;
        while (n < this.pending.length && (n === 0 || events + (this.pending[n] as Pending).batch.events.length <= GROUP_EVENTS)) {
          events += (this.pending[n] as Pending).batch.events.length;
          n++;
        }
        await this.apply(this.pending.splice(0, n));
      }
    } finally {
      this.draining = false;
    }
  }

  private async apply(group: readonly Pending[]): Promise<void> {
    const started = performance.now();
    for (const p of group) this.stats.waitMs += started - p.queued;
    try {
      const outcomes = await this.projector.applyBatches(group.map((p) => p.batch));
      this.stats.lastApplyMs = performance.now() - started;
      this.stats.applyMs += this.stats.lastApplyMs;
      this.stats.transactions += 1;
      this.stats.batches += group.length;
      this.stats.lastBatchAt = this.clock().toISOString();
      const byPartition = new Map(outcomes.map((o) => [o.partition, o]));
      for (const o of outcomes) {
        this.stats.applied += o.applied;
        this.stats.duplicates += o.duplicates;
        this.stats.skipped += o.skipped;
        this.stats.deadLettered += o.deadLettered;
        if (o.deadLettered > 0) this.logger.warn(`${o.deadLettered} poison event(s) of partition ${o.partition} went to the dead-letter table`);
        for (const l of this.listeners) l(o);
      }
      for (const p of group) p.resolve(byPartition.get(p.batch.partition) as BatchOutcome);
    } catch (e) {
      // Not a poison event (those are dead-lettered): the database failed. The batches are delivered again.
      this.stats.failures += 1;
      this.stats.lastError = e instanceof Error ? e.message : String(e);
      this.logger.warn(`batches of partition(s) ${[...new Set(group.map((p) => p.batch.partition))].join(', ')} failed, will be redelivered: ${this.stats.lastError}`);
      for (const p of group) p.reject(e);
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options?.subscribe === false) return;
    const config = this.infra.config;
    // The live model's stance history in memory before the first batch (which otherwise waits for it).
    const started = performance.now();
    const held = await this.projector.warmUp();
    this.logger.log(`warm state loaded: ${held} stance and amendment facts in ${Math.round(performance.now() - started)} ms`);
    this.source = this.infra.source();
    await this.source.run(
      {
        groupId: this.options?.groupId ?? consumerGroupId('projector', config.KAFKA_TOPIC_EVENTS, config.REGSTREAM_PROJECTOR_GROUP_ID),
        sessionTimeoutMs: config.REGSTREAM_PROJECTOR_SESSION_TIMEOUT_MS,
        checkpoint: (p) => this.projector.checkpoint(p),
        fromBeginning: true,
      },
      async (batch) => {
        await this.handle(batch);
      },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.source?.stop();
    this.source = null;
    // A rebuild stops at its next batch; its model is marked failed, the live one is untouched.
    this.rebuildRun?.abort.abort();
    await this.rebuildRun?.done;
  }

  /** Starts a rebuild in the background; one at a time. */
  startRebuild(options: RebuildOptions): { started: boolean } {
    if (this.rebuilding && this.rebuilding.result === null && this.rebuilding.error === null) return { started: false };
    const state: NonNullable<typeof this.rebuilding> = { options, progress: null, result: null, error: null };
    this.rebuilding = state;
    const abort = new AbortController();
    const done = this.projector
      .rebuild(this.store, {
        ...options,
        signal: abort.signal,
        onProgress: (p) => {
          state.progress = p;
        },
      })
      .then(
        (r) => {
          state.result = r;
          this.logger.log(`rebuilt ${r.model}: ${r.events} events in ${r.seconds.toFixed(1)} s (${r.eventsPerSecond} events/s)${r.switched ? ', now live' : ''}`);
        },
        (e: unknown) => {
          state.error = e instanceof Error ? e.message : String(e);
          if (!abort.signal.aborted) this.logger.error(`rebuild failed: ${state.error}`);
        },
      );
    this.rebuildRun = { abort, done };
    return { started: true };
  }

  rebuildStatus(): typeof this.rebuilding {
    return this.rebuilding;
  }
}
