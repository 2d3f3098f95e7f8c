import { EventEmitter } from 'node:events';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { backoffDelay, type JobQueue } from '@regstream/messaging';
import { CLOCK } from '@regstream/runtime';
import type { Stmt } from '../db';
import type { Plan } from '../matching/matcher';
import { ALERTS_OPTIONS, ALERTS_QUEUE, type AlertsOptions } from '../options';
import { type Alert, alertBody, alertId, AlertsRepository, jobIdOf } from '../repository';
import { signingSecrets, type Subscription } from '../subscriptions/model';
import { webhookHeaders } from '../webhooks/signing';
import { WebhookSender } from '../webhooks/sender';

export const DELIVER_JOB = 'alerts.deliver';

export interface DeliverJob {
  readonly deliveryId: string;
  readonly attempt: number;
}

/** RETURNING rows naming a delivery: id, attempts and (to enqueue) next_attempt_at. */
type QueueRow = Record<string, unknown>;

export interface DeliveryStats {
  sent: number;
  delivered: number;
  failed: number;
  dead: number;
  requeued: number;
}

/** Wakes SSE feeds in this process when a subscription gets a match (other processes poll). */
@Injectable()
export class FeedHub {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  notify(subscriptionId: string): void {
    this.emitter.emit(subscriptionId);
  }
  on(subscriptionId: string, fn: () => void): () => void {
    this.emitter.on(subscriptionId, fn);
    return () => this.emitter.off(subscriptionId, fn);
  }
}

/**
 * The delivery log and the queue around it. The database is the truth: a job only says "try delivery
 * X, attempt n now"; the claim in the database decides whether anyone does. So a duplicate job, a replay
 * or a queue rebuilt after Redis lost its data never sends twice.
 */
@Injectable()
export class DeliveryService {
  private readonly logger = new Logger('AlertsDelivery');
  readonly stats: DeliveryStats = { sent: 0, delivered: 0, failed: 0, dead: 0, requeued: 0 };
  private reconciling: Promise<{ released: number; requeued: number; digests: number }> | null = null;

  constructor(
    readonly repo: AlertsRepository,
    @Inject(ALERTS_QUEUE) private readonly queue: JobQueue,
    @Inject(ALERTS_OPTIONS) private readonly options: AlertsOptions,
    @Inject(CLOCK) private readonly clock: () => Date,
    private readonly sender: WebhookSender,
    private readonly feeds: FeedHub,
  ) {}

  registerHandler(): void {
    this.queue.register<DeliverJob>(DELIVER_JOB, (job) => this.deliver(job.data));
  }

  /** Runs a plan atomically, then enqueues and removes jobs as its RETURNING rows say. */
  async commit(plan: Plan, extra: readonly Stmt[] = []): Promise<void> {
    const stmts = [...plan.stmts, ...extra];
    if (stmts.length === 0) return;
    const results = await this.repo.db.batch(stmts);
    await this.afterCommit(plan, results);
  }

  async afterCommit(plan: Plan, results: readonly Record<string, unknown>[][]): Promise<void> {
    // Replay the plan's effects in statement order: a reminder cancelled and then revived in the same
    // plan (a PATCH that keeps its date) ends up enqueued once, with its old job removed first.
    const roles = [...plan.unqueue.map((i) => [i, 'u'] as const), ...plan.enqueue.map((i) => [i, 'e'] as const)].sort((a, b) => a[0] - b[0]);
    const last = new Map<string, { row: QueueRow; cancelled: boolean; enqueue: boolean }>();
    for (const [i, role] of roles) {
      for (const row of (results[i] ?? []) as QueueRow[]) {
        const id = String(row['id']);
        const entry = last.get(id) ?? { row, cancelled: false, enqueue: false };
        if (role === 'u') {
          entry.cancelled = true;
          entry.enqueue = false;
        } else {
          entry.enqueue = true;
        }
        entry.row = row;
        last.set(id, entry);
      }
    }
    for (const e of last.values()) {
      if (e.cancelled) await this.unqueue([e.row]);
      if (e.enqueue) await this.enqueue([e.row]);
    }
    for (const s of plan.touched) this.feeds.notify(s);
  }

  /** Puts the next attempt of each delivery on the queue (a no-op for one already there); returns how many. */
  async enqueue(rows: readonly QueueRow[]): Promise<number> {
    const now = this.clock().getTime();
    const jobs = rows.flatMap((r) => {
      const attempt = Number(r['attempts'] ?? 0) + 1;
      const at = r['next_attempt_at'];
      const due = typeof at === 'string' ? Date.parse(at) : NaN;
      const delayMs = Number.isNaN(due) ? 0 : Math.max(0, due - now);
      // Further ahead than the horizon: the reconciler enqueues it when it comes near.
      return delayMs > this.options.enqueueHorizonMs ? [] : [{ id: String(r['id']), attempt, delayMs }];
    });
    // Concurrent adds share the Redis connection's pipeline.
    for (let i = 0; i < jobs.length; i += 100) {
      await Promise.all(
        jobs.slice(i, i + 100).map((j) => this.queue.add<DeliverJob>(DELIVER_JOB, { deliveryId: j.id, attempt: j.attempt }, { jobId: jobIdOf(j.id, j.attempt), delayMs: j.delayMs, attempts: 1 })),
      );
    }
    return jobs.length;
  }

  async unqueue(rows: readonly QueueRow[]): Promise<void> {
    for (const r of rows) await this.queue.remove(jobIdOf(String(r['id']), Number(r['attempts'] ?? 0) + 1));
  }

  private backoff(attemptInCycle: number): number {
    return backoffDelay(attemptInCycle, this.options.backoffBaseMs, Math.random, this.options.backoffCapMs);
  }

  /** One attempt of one delivery. */
  async deliver(job: DeliverJob): Promise<void> {
    const now = this.clock();
    const row = await this.repo.claim(job.deliveryId, job.attempt, now, this.options.leaseMs);
    if (!row) return; // done, cancelled, not yet due, or another worker has it
    const sub = await this.repo.subscription(row.subscription_id);
    const finish = (f: Parameters<AlertsRepository['finishStmt']>[1], extra: Stmt[] = []) => this.repo.db.batch([this.repo.finishStmt(row.id, f), ...extra]);
    if (!sub || sub.status !== 'active') {
      await finish({ status: 'cancelled', attempts: row.attempts, code: null, error: sub ? `subscription ${sub.status}` : 'subscription deleted', latencyMs: null, now: now.toISOString() });
      return;
    }
    const extra: Stmt[] = [];
    if (row.kind === 'deadline') {
      // A reminder becomes a match when it is due: the SSE feed and the day's digest show it.
      extra.push(this.repo.insertMatch({ id: row.id, subscription: sub, kind: 'deadline', eventId: null, body: row.body, createdAt: now.toISOString() }));
    }
    const url = sub.channel.kind === 'sse' ? null : sub.channel.url;
    if (row.channel === 'feed' || url === null) {
      await finish({ status: 'delivered', attempts: job.attempt, code: null, error: null, latencyMs: 0, now: now.toISOString() }, extra);
      this.feeds.notify(sub.id);
      return;
    }
    const startedAt = now.toISOString();
    const timestamp = Math.floor(Date.now() / 1000);
    const result = await this.sender.post(url, webhookHeaders(signingSecrets(sub, now), row.id, timestamp, row.body), row.body);
    this.stats.sent += 1;
    const after = this.clock();
    extra.push(this.repo.attemptStmt({ delivery_id: row.id, attempt: job.attempt, started_at: startedAt, status_code: result.status, latency_ms: result.latencyMs, error: result.error }));
    const base = { attempts: job.attempt, code: result.status, latencyMs: result.latencyMs, now: after.toISOString() };
    if (result.status !== null && result.status >= 200 && result.status < 300) {
      this.stats.delivered += 1;
      await finish({ ...base, status: 'delivered', error: null }, extra);
      if (row.kind === 'deadline') this.feeds.notify(sub.id);
      return;
    }
    this.stats.failed += 1;
    const error = result.error ?? `HTTP ${result.status}`;
    if (result.status === 410) {
      // The receiver says the endpoint is gone for good: stop sending there.
      const results = await finish({ ...base, status: 'gone', error }, [
        ...extra,
        this.repo.setSubscriptionStatus(sub.id, 'disabled', 'the receiver answered 410 Gone', after.toISOString()),
        this.repo.cancelPendingOf(sub.id, after.toISOString(), 'subscription disabled after 410 Gone'),
      ]);
      await this.unqueue((results[results.length - 1] ?? []));
      this.logger.warn(`subscription ${sub.id} disabled: 410 Gone from its receiver`);
      return;
    }
    if (job.attempt >= row.max_attempts) {
      this.stats.dead += 1;
      await finish({ ...base, status: 'dead', error }, extra);
      return;
    }
    const delay = this.backoff(job.attempt - row.cycle_start);
    const next = new Date(after.getTime() + delay).toISOString();
    await finish({ ...base, status: 'pending', nextAttemptAt: next, error }, extra);
    await this.enqueue([{ id: row.id, attempts: job.attempt, next_attempt_at: next }]);
  }

  /** Sends a dead, gone or cancelled delivery again, with a fresh round of attempts. */
  async redrive(id: string, sub: Subscription): Promise<boolean> {
    const now = this.clock().toISOString();
    const rows = await this.repo.db.query<QueueRow>(
      `UPDATE alert_deliveries SET status = 'pending', cycle_start = attempts, max_attempts = attempts + $2, next_attempt_at = $3,
       lease_until = NULL, updated_at = $3 WHERE id = $1 AND subscription_id = $4 AND status IN ('dead', 'gone', 'cancelled')
       RETURNING id, attempts, next_attempt_at`,
      [id, this.options.maxAttempts, now, sub.id],
    );
    await this.enqueue(rows);
    return rows.length > 0;
  }

  /**
   * Rebuilds the queue from the delivery log: leases of vanished workers are released, and every pending
   * delivery whose job is missing (Redis lost its data, a crash between commit and enqueue) is enqueued
   * again with the time it was due. Then closes finished digest days.
   */
  reconcile(): Promise<{ released: number; requeued: number; digests: number }> {
    this.reconciling ??= this.reconcileOnce().finally(() => {
      this.reconciling = null;
    });
    return this.reconciling;
  }

  private async reconcileOnce(): Promise<{ released: number; requeued: number; digests: number }> {
    const now = this.clock();
    const released = await this.repo.releaseExpiredLeases(now.toISOString());
    const horizon = new Date(now.getTime() + this.options.enqueueHorizonMs).toISOString();
    let requeued = 0;
    let after = '';
    for (;;) {
      const page = await this.repo.pendingPage(after, 500, horizon);
      for (const r of page) {
        const jobId = jobIdOf(r.id, r.attempts + 1);
        if (await this.queue.has(jobId)) continue;
        await this.queue.remove(jobId); // a completed or failed record would block the re-add
        requeued += await this.enqueue([r]);
      }
      if (page.length < 500) break;
      after = page[page.length - 1]?.id ?? after;
    }
    this.stats.requeued += requeued;
    if (requeued > 0) this.logger.log(`reconciled the queue from the delivery log: ${requeued} deliveries enqueued again`);
    const digests = await this.closeDigests();
    return { released, requeued, digests };
  }

  /** One webhook per finished UTC day with matches, per digest subscription. Idempotent per (subscription, day). */
  async closeDigests(): Promise<number> {
    const now = this.clock();
    const today = now.toISOString().slice(0, 10);
    let created = 0;
    for (const sub of await this.repo.subscriptionsByChannel('digest')) {
      const days = await this.repo.matchDays(sub.id, sub.createdAt.slice(0, 10), today);
      for (const day of days) {
        const id = alertId('digest', sub.id, day);
        if (await this.repo.hasDelivery(id)) continue;
        const matches = await this.repo.matchesOfDay(sub.id, day, 1000);
        const total = await this.repo.countMatchesOfDay(sub.id, day);
        const alert: Alert = {
          id,
          subscription: sub,
          kind: 'digest',
          eventId: null,
          createdAt: now.toISOString(),
          body: alertBody('digest', sub.id, now.toISOString(), {
            day,
            count: total,
            truncated: total > matches.length,
            matches: matches.map((m) => JSON.parse(m.body) as unknown),
          }),
        };
        const [rows] = await this.repo.db.batch([this.repo.insertDelivery(alert, 'http', now.toISOString(), this.options.maxAttempts)]);
        await this.enqueue((rows ?? []));
        created += rows?.length ?? 0;
      }
    }
    return created;
  }
}
