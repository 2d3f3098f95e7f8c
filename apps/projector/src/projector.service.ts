import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown, Optional } from '@nestjs/common';
import type { EventStore } from '@regstream/event-store';
import type { EventSource, SourceBatch } from '@regstream/messaging';
import { type BatchOutcome, Projector, type RebuildOptions, type RebuildProgress, type RebuildResult } from '@regstream/projections';
import { CLOCK, EVENT_STORE, INFRA, type Infrastructure } from '@regstream/runtime';

export const PROJECTOR_OPTIONS = Symbol('PROJECTOR_OPTIONS');

export interface ProjectorModuleOptions {
  /** Consume the distribution log in this process (default true). */
  readonly subscribe?: boolean;
  /** Consumer group (default 'projector'); every member of the group shares the partitions. */
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
}

export type BatchListener = (outcome: BatchOutcome) => void;

/**
 * Keeps the read models: joins the 'projector' consumer group on the distribution log (Kafka or the
 * in-process bus) with the checkpoints stored beside the read models, and applies each batch in one
 * transaction. Also runs rebuilds for operators.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Projector');
  readonly projector: Projector;
  readonly stats: ProjectorStats = { batches: 0, applied: 0, duplicates: 0, skipped: 0, deadLettered: 0, failures: 0, lastError: null, lastBatchAt: null };
  private source: EventSource | null = null;
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

  async handle(batch: SourceBatch): Promise<BatchOutcome> {
    try {
      const outcome = await this.projector.applyBatch(batch.partition, batch.events, batch.offsets);
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
    this.source = this.infra.source();
    await this.source.run(
      { groupId: this.options?.groupId ?? 'projector', checkpoint: (p) => this.projector.checkpoint(p), fromBeginning: true },
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
