import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { EventSource, SourceBatch } from '@regstream/messaging';
import { CLOCK, INFRA, type Infrastructure } from '@regstream/runtime';
import { DeliveryService } from '../deliveries/delivery.service';
import { ALERTS_OPTIONS, type AlertsOptions } from '../options';
import { AlertsRepository } from '../repository';
import { KeptStateLoader } from './kept-state';
import { Matcher, Plan } from './matcher';

/** Serialises async work (batches, subscription changes that read the same state). */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn);
    this.tail = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }
}

export interface ConsumerStats {
  batches: number;
  events: number;
  alerts: number;
  /** Time spent on a batch (matching, commit, enqueue), for the matching rate. */
  busyMs: number;
  /** Of which: matching (CPU), the transaction, and enqueueing after it. */
  matchMs: number;
  commitMs: number;
  enqueueMs: number;
}

/**
 * Consumer group 'alerts' on the distribution log. Each batch is matched, and the alerts, the matcher
 * state and the partition checkpoint are written in one transaction; jobs are enqueued after the commit
 * (a crash in between is repaired by the reconciler). Redelivered messages are skipped by the checkpoint,
 * and de-duplicated by alert id if they get through.
 */
@Injectable()
export class AlertsConsumer {
  private readonly logger = new Logger('AlertsConsumer');
  readonly lock = new Mutex();
  readonly stats: ConsumerStats = { batches: 0, events: 0, alerts: 0, busyMs: 0, matchMs: 0, commitMs: 0, enqueueMs: 0 };
  private source: EventSource | null = null;
  /**
   * The in-process bus numbers offsets from 0 in every process, so its checkpoints only mean something
   * within one run: they are scoped by a per-run epoch. Kafka offsets are durable and unscoped.
   */
  private partitionPrefix = '';

  constructor(
    @Inject(INFRA) private readonly infra: Infrastructure,
    @Inject(ALERTS_OPTIONS) private readonly options: AlertsOptions,
    @Inject(CLOCK) private readonly clock: () => Date,
    private readonly repo: AlertsRepository,
    readonly loader: KeptStateLoader,
    readonly matcher: Matcher,
    private readonly deliveries: DeliveryService,
  ) {}

  async start(): Promise<void> {
    if (this.infra.bus) {
      await this.repo.dropCheckpoints(this.options.groupId, 'bus-');
      this.partitionPrefix = `bus-${randomUUID().slice(0, 8)}:`;
    }
    await this.loader.reset();
    const source = this.infra.source();
    this.source = source;
    await source.run(
      {
        groupId: this.options.groupId,
        fromBeginning: true,
        checkpoint: (partition) => this.repo.checkpoint(this.options.groupId, this.partitionPrefix + partition),
      },
      (batch) => this.handle(batch),
    );
  }

  async stop(): Promise<void> {
    await this.source?.stop();
    this.source = null;
  }

  handle(batch: SourceBatch): Promise<void> {
    return this.lock.run(async () => {
      const started = performance.now();
      const state = await this.loader.refresh();
      const subs = await this.repo.activeSubscriptions();
      const now = this.clock();
      const plan = new Plan();
      const matching = performance.now();
      for (const e of batch.events) {
        // Kept events were fully handled in the transaction that kept them.
        if (state.has(e.id)) continue;
        this.matcher.process(e, subs, state, now, plan);
      }
      this.stats.matchMs += performance.now() - matching;
      const last = batch.offsets[batch.offsets.length - 1];
      if (last !== undefined) plan.add(this.repo.checkpointStmt(this.options.groupId, this.partitionPrefix + batch.partition, last, now.toISOString()));
      let results;
      const committing = performance.now();
      try {
        results = await this.repo.db.batch(plan.stmts);
        this.stats.commitMs += performance.now() - committing;
      } catch (e) {
        this.logger.warn(`batch of ${batch.events.length} on partition ${batch.partition} failed, will be redelivered: ${e instanceof Error ? e.message : String(e)}`);
        await this.loader.reset();
        throw e;
      }
      const enqueueing = performance.now();
      try {
        await this.deliveries.afterCommit(plan, results);
        this.stats.enqueueMs += performance.now() - enqueueing;
      } catch (e) {
        // Committed deliveries without a job are found by the reconciler.
        this.logger.warn(`enqueue after commit failed; the reconciler will enqueue: ${e instanceof Error ? e.message : String(e)}`);
      }
      this.stats.batches += 1;
      this.stats.events += batch.events.length;
      this.stats.alerts += plan.alerts;
      this.stats.busyMs += performance.now() - started;
    });
  }
}
