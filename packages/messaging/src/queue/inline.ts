import { backoffDelay, type JobCounts, type JobHandler, type JobOptions, type JobQueue, MissingJobHandlerError, type QueuedJob } from './types';

const MAX_TIMER_MS = 2_147_483_647;

interface Entry {
  job: QueuedJob;
  opts: JobOptions;
  timer: NodeJS.Timeout | null;
  state: 'waiting' | 'delayed' | 'active' | 'failed' | 'completed';
}

/** In-process queue for the embedded mode and unit tests; same semantics as the BullMQ driver. */
export class InlineJobQueue implements JobQueue {
  readonly driver = 'inline' as const;
  private readonly handlers = new Map<string, JobHandler>();
  private readonly jobs = new Map<string, Entry>();
  private readonly failedCbs: ((job: QueuedJob, error: Error, final: boolean) => void)[] = [];
  private started = false;
  private closed = false;
  private seq = 0;
  private active = 0;
  private readonly pending: Entry[] = [];

  constructor(
    private readonly jobNames: readonly string[],
    private readonly concurrency = 4,
  ) {}

  register<T>(name: string, handler: JobHandler<T>): void {
    this.handlers.set(name, handler as JobHandler);
  }

  start(): Promise<void> {
    const missing = this.jobNames.filter((n) => !this.handlers.has(n));
    if (missing.length) return Promise.reject(new MissingJobHandlerError(missing));
    this.started = true;
    this.pump();
    return Promise.resolve();
  }

  add<T>(name: string, data: T, opts: JobOptions = {}): Promise<string> {
    const id = opts.jobId ?? `inline-${++this.seq}`;
    const existing = this.jobs.get(id);
    if (existing && existing.state !== 'completed' && existing.state !== 'failed') return Promise.resolve(id);
    if (existing) return Promise.resolve(id);
    const entry: Entry = { job: { id, name, data, attemptsMade: 0 }, opts, timer: null, state: 'waiting' };
    this.jobs.set(id, entry);
    this.schedule(entry, opts.delayMs ?? 0);
    return Promise.resolve(id);
  }

  private schedule(entry: Entry, delayMs: number): void {
    if (delayMs > 0) {
      entry.state = 'delayed';
      // Node timers overflow past 2^31-1 ms (they would fire at once): wait in steps.
      const step = Math.min(delayMs, MAX_TIMER_MS);
      entry.timer = setTimeout(() => {
        entry.timer = null;
        if (delayMs > step) {
          this.schedule(entry, delayMs - step);
          return;
        }
        entry.state = 'waiting';
        this.pending.push(entry);
        this.pump();
      }, step);
      entry.timer.unref?.();
    } else {
      entry.state = 'waiting';
      this.pending.push(entry);
      this.pump();
    }
  }

  private pump(): void {
    while (this.started && !this.closed && this.active < this.concurrency && this.pending.length) {
      const entry = this.pending.shift() as Entry;
      if (entry.state !== 'waiting') continue;
      void this.runOne(entry);
    }
  }

  private async runOne(entry: Entry): Promise<void> {
    this.active += 1;
    entry.state = 'active';
    const handler = this.handlers.get(entry.job.name);
    try {
      if (!handler) throw new MissingJobHandlerError([entry.job.name]);
      await handler(entry.job);
      entry.state = 'completed';
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      const attempts = entry.opts.attempts ?? 1;
      const made = entry.job.attemptsMade + 1;
      const final = made >= attempts;
      entry.job = { ...entry.job, attemptsMade: made };
      for (const cb of this.failedCbs) cb(entry.job, err, final);
      if (final) entry.state = 'failed';
      else this.schedule(entry, backoffDelay(made, entry.opts.backoffMs ?? 1000));
    } finally {
      this.active -= 1;
      this.pump();
    }
  }

  remove(jobId: string): Promise<boolean> {
    const e = this.jobs.get(jobId);
    if (!e || e.state === 'active') return Promise.resolve(false);
    if (e.timer) clearTimeout(e.timer);
    e.state = 'completed';
    this.jobs.delete(jobId);
    return Promise.resolve(true);
  }

  has(jobId: string): Promise<boolean> {
    const e = this.jobs.get(jobId);
    return Promise.resolve(e !== undefined && e.state !== 'completed' && e.state !== 'failed');
  }

  counts(): Promise<JobCounts> {
    const c = { waiting: 0, delayed: 0, active: 0, failed: 0, completed: 0 };
    for (const e of this.jobs.values()) c[e.state] += 1;
    return Promise.resolve(c);
  }

  onFailed(cb: (job: QueuedJob, error: Error, final: boolean) => void): void {
    this.failedCbs.push(cb);
  }

  close(): Promise<void> {
    this.closed = true;
    for (const e of this.jobs.values()) if (e.timer) clearTimeout(e.timer);
    return Promise.resolve();
  }
}
