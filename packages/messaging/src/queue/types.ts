export interface JobOptions {
  /** Deterministic id: adding a job whose id exists is a no-op (dedup). */
  readonly jobId?: string;
  readonly delayMs?: number;
  readonly attempts?: number;
  /** Base delay of the exponential backoff between attempts. */
  readonly backoffMs?: number;
}

export interface QueuedJob<T = unknown> {
  readonly id: string;
  readonly name: string;
  readonly data: T;
  /** Attempts made before this one. */
  readonly attemptsMade: number;
}

export type JobHandler<T = unknown> = (job: QueuedJob<T>) => Promise<void>;

export interface JobCounts {
  readonly waiting: number;
  readonly delayed: number;
  readonly active: number;
  readonly failed: number;
  readonly completed: number;
}

/** Swappable queue drivers: BullMQ on Redis, or inline in-process for the embedded mode and tests. */
export interface JobQueue {
  readonly driver: 'bullmq' | 'inline';
  /** Registers the handler for a job name; every declared name needs one before start(). */
  register<T>(name: string, handler: JobHandler<T>): void;
  start(): Promise<void>;
  add<T>(name: string, data: T, opts?: JobOptions): Promise<string>;
  remove(jobId: string): Promise<boolean>;
  has(jobId: string): Promise<boolean>;
  counts(): Promise<JobCounts>;
  /** Called after each failed attempt; `final` when no attempt is left. */
  onFailed(cb: (job: QueuedJob, error: Error, final: boolean) => void): void;
  close(): Promise<void>;
}

export class MissingJobHandlerError extends Error {
  constructor(readonly names: string[]) {
    super(`Failed to find job handler for ${names.join(', ')}`);
    this.name = 'MissingJobHandlerError';
  }
}

/** Exponential backoff with full jitter, capped; shared by both drivers. */
export function backoffDelay(attemptsMade: number, baseMs: number, random: () => number = Math.random, capMs = 6 * 3600_000): number {
  const exp = Math.min(capMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}
