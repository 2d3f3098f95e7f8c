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
}

/** Runs one task at a time, in call order. */
class Serial {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const next = this.tail.then(task, task);
    this.tail = next.catch(() => undefined);
    return next;
  }
}

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
  };
  private source: EventSource | null = null;
  private readonly applying = new Serial();
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

  /** Applies one batch (after any batch already being applied, see the class comment). */
  handle(batch: SourceBatch): Promise<BatchOutcome> {
    const queued = performance.now();
    return this.applying.run(() => {
      this.stats.waitMs += performance.now() - queued;
      return this.apply(batch);
    });
  }

  private async apply(batch: SourceBatch): Promise<BatchOutcome> {
    const started = performance.now();
    try {
      const outcome = await this.projector.applyBatch(batch.partition, batch.events, batch.offsets);
      this.stats.lastApplyMs = performance.now() - started;
      this.stats.applyMs += this.stats.lastApplyMs;
      this.stats.batches += 1;
      this.stats.applied += outcome.applied;
      this.stats.duplicates += outcome.duplicates;
      this.stats.skipped += outcome.skipped;
      this.stats.deadLettered += outcome.deadLettered;
      this.stats.lastBatchAt = this.clock().toISOString();
      if (outcome.deadLettered > 0) this.logger.warn(`${outcome.deadLettered} poison event(s) of partition ${batch.partition} went to the dead-letter table`);
      for (const l of this.listeners) l(outcome);
      return outcome;
    } catch (e) {
      // Not a poison event (those are dead-lettered): the database failed. The batch is delivered again.
      this.stats.failures += 1;
      this.stats.lastError = e instanceof Error ? e.message : String(e);
      this.logger.warn(`batch of partition ${batch.partition} failed, will be redelivered: ${this.stats.lastError}`);
      throw e;
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options?.subscribe === false) return;
    const config = this.infra.config;
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
