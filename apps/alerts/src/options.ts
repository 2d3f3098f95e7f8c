export const ALERTS_OPTIONS = Symbol('ALERTS_OPTIONS');
export const ALERTS_QUEUE = Symbol('ALERTS_QUEUE');
export const ALERTS_DB = Symbol('ALERTS_DB');

export interface AlertsOptions {
  /** Consume the event log and match (off: API only). */
  readonly consumer: boolean;
  /** Run the delivery worker and the reconciler (off: API only). */
  readonly worker: boolean;
  /** Consumer group on the distribution log. */
  readonly groupId: string;
  /** BullMQ queue name (distributed mode). */
  readonly queueName: string;
  /** Attempts per delivery before it is dead-lettered. */
  readonly maxAttempts: number;
  /** Base of the exponential backoff (with jitter) between attempts. */
  readonly backoffBaseMs: number;
  /** Cap of one backoff step. */
  readonly backoffCapMs: number;
  /** One HTTP attempt's time limit. */
  readonly requestTimeoutMs: number;
  /** How long a worker owns a delivery it is sending; an expired lease is retried by the reconciler. */
  readonly leaseMs: number;
  /** How often the queue is rebuilt from the delivery log (and digests closed). 0 = only at start-up. */
  readonly reconcileIntervalMs: number;
  /** How long the previous secret keeps signing after a rotation. */
  readonly rotationWindowMs: number;
  /** SSE feed: how often the log is polled for matches written by other processes. */
  readonly feedPollMs: number;
  /** SSE feed: keep-alive comment interval. */
  readonly feedHeartbeatMs: number;
  /** Extra allow-list entries (IPs/CIDRs) on top of REGSTREAM_WEBHOOK_ALLOWLIST. */
  readonly extraAllowlist: readonly string[];
  /**
   * Deliveries due further ahead than this are not put on the queue yet; the reconciler enqueues them
   * once they come within it. Keeps Redis small and stays under Node's 2^31-1 ms timer limit (inline queue).
   */
  readonly enqueueHorizonMs: number;
  /** Worker concurrency. */
  readonly concurrency: number;
}

export const DEFAULT_ALERTS_OPTIONS: AlertsOptions = {
  consumer: true,
  worker: true,
  groupId: 'alerts',
  queueName: 'regstream-alerts',
  maxAttempts: 8,
  // 8 attempts with a 5-minute base: 7 waits of 5, 10, 20 … 320 minutes (halved by jitter): 5–10 hours.
  backoffBaseMs: 5 * 60_000,
  backoffCapMs: 6 * 3600_000,
  requestTimeoutMs: 10_000,
  leaseMs: 120_000,
  reconcileIntervalMs: 60_000,
  rotationWindowMs: 24 * 3600_000,
  feedPollMs: 1000,
  feedHeartbeatMs: 15_000,
  extraAllowlist: [],
  enqueueHorizonMs: 2_147_000_000,
  concurrency: 8,
};

/** Environment overrides for the standalone process (names under REGSTREAM_ALERTS_*). */
export function alertsOptionsFromEnv(env: Record<string, string | undefined> = process.env): Partial<AlertsOptions> {
  const num = (k: string): number | undefined => {
    const v = env[k];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`${k}: expected a non-negative number`);
    return n;
  };
  const out: Record<string, unknown> = {};
  const set = (key: keyof AlertsOptions, v: unknown) => {
    if (v !== undefined) out[key] = v;
  };
  set('maxAttempts', num('REGSTREAM_ALERTS_MAX_ATTEMPTS'));
  set('backoffBaseMs', num('REGSTREAM_ALERTS_BACKOFF_BASE_MS'));
  set('reconcileIntervalMs', num('REGSTREAM_ALERTS_RECONCILE_MS'));
  if (env['REGSTREAM_ALERTS_CONSUMER'] === 'off') set('consumer', false);
  if (env['REGSTREAM_ALERTS_WORKER'] === 'off') set('worker', false);
  return out;
}
