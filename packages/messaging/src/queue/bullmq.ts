import { type Job, type MinimalJob, Queue, Worker } from 'bullmq';
import type IORedis from 'ioredis';
import { backoffDelay, type JobCounts, type JobHandler, type JobOptions, type JobQueue, MissingJobHandlerError, type QueuedJob } from './types';

/** BullMQ on Redis. One queue, handlers dispatched by job name and checked at start. */
export class BullJobQueue implements JobQueue {
  readonly driver = 'bullmq' as const;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly failedCbs: ((job: QueuedJob, error: Error, final: boolean) => void)[] = [];
  private readonly queue: Queue;
  private worker: Worker | null = null;

  constructor(
    private readonly name: string,
    private readonly connection: IORedis,
    private readonly jobNames: readonly string[],
    private readonly concurrency = 8,
  ) {
    this.queue = new Queue(name, { connection });
    // A flushed Redis makes BullMQ report missing job keys; the delivery log reconciles, so log and go on.
    this.queue.on('error', () => undefined);
  }

  register<T>(name: string, handler: JobHandler<T>): void {
    this.handlers.set(name, handler as JobHandler);
  }

  private workerConnection: IORedis | null = null;

  async start(): Promise<void> {
    const missing = this.jobNames.filter((n) => !this.handlers.has(n));
    if (missing.length) throw new MissingJobHandlerError(missing);
    this.workerConnection = this.connection.duplicate();
    this.worker = new Worker(
      this.name,
      async (job: Job) => {
        const handler = this.handlers.get(job.name);
        if (!handler) throw new MissingJobHandlerError([job.name]);
        await handler({ id: String(job.id), name: job.name, data: stripInternal(job.data), attemptsMade: job.attemptsMade });
      },
      {
        connection: this.workerConnection,
        concurrency: this.concurrency,
        settings: { backoffStrategy: (attemptsMade: number, _type?: string, _err?: Error, job?: MinimalJob) => backoffDelay(attemptsMade, Number((job?.data as { __backoffMs?: number } | undefined)?.__backoffMs ?? 1000)) },
      },
    );
    this.worker.on('error', () => undefined);
    this.worker.on('failed', (job, err) => {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      const final = job.attemptsMade >= attempts;
      for (const cb of this.failedCbs) cb({ id: String(job.id), name: job.name, data: stripInternal(job.data), attemptsMade: job.attemptsMade }, err, final);
    });
    await this.worker.waitUntilReady();
  }

  async add<T>(name: string, data: T, opts: JobOptions = {}): Promise<string> {
    const job = await this.queue.add(name, opts.backoffMs !== undefined ? { ...(data as object), __backoffMs: opts.backoffMs } : data, {
      ...(opts.jobId !== undefined ? { jobId: opts.jobId } : {}),
      ...(opts.delayMs ? { delay: opts.delayMs } : {}),
      attempts: opts.attempts ?? 1,
      backoff: { type: 'custom' },
      removeOnComplete: { count: 1000 },
      removeOnFail: { count: 5000 },
    });
    return String(job.id);
  }

  async remove(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return false;
    try {
      await job.remove();
      return true;
    } catch {
      return false;
    }
  }

  async has(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    return state !== 'completed' && state !== 'failed' && state !== 'unknown';
  }

  async counts(): Promise<JobCounts> {
    const c = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'failed', 'completed');
    return { waiting: c['waiting'] ?? 0, delayed: c['delayed'] ?? 0, active: c['active'] ?? 0, failed: c['failed'] ?? 0, completed: c['completed'] ?? 0 };
  }

  onFailed(cb: (job: QueuedJob, error: Error, final: boolean) => void): void {
    this.failedCbs.push(cb);
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
    // BullMQ treats a passed connection as shared and never quits it; this one is ours.
    this.workerConnection?.disconnect();
    this.workerConnection = null;
  }
}

/** The backoff base rides along in the job data; handlers never see it. */
function stripInternal(data: unknown): unknown {
  if (data === null || typeof data !== 'object' || !('__backoffMs' in data)) return data;
  const { __backoffMs: _drop, ...rest } = data as Record<string, unknown>;
  return rest;
}
