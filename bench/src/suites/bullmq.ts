import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import type { BenchContext } from '../context';
import { runCalls } from '../loadgen';
import { sleep } from '../procs';
import { REDIS_URL, RUN_ID } from '../services';

export interface BullReference {
  readonly addRate: number;
  readonly processRate: number;
}

/**
 * Raw BullMQ: add no-op jobs from 16 concurrent callers (the job options BullJobQueue uses), then a
 * Worker with concurrency 8 (BullJobQueue's default) processes them. The reference for the alerts
 * path's job queue. Only this queue's keys are removed afterwards (obliterate), in a dedicated DB index.
 */
export async function bullmqReference(ctx: BenchContext, jobs: number): Promise<BullReference> {
  const connection = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const name = `regstream-bench-${RUN_ID}`;
  const queue = new Queue(name, { connection });
  ctx.log(`bullmq: ${jobs} no-op jobs`);
  let i = 0;
  const add = await runCalls<number>({
    concurrency: 16,
    durationMs: 120_000,
    next: () => (i < jobs ? i++ : null),
    op: async (n) => {
      await queue.add('noop', { n }, { attempts: 1, removeOnComplete: { count: 1000 }, removeOnFail: { count: 5000 } });
      return 1;
    },
  });
  let done = 0;
  const t0 = performance.now();
  const worker = new Worker(
    name,
    async () => {
      done += 1;
      await Promise.resolve();
    },
    { connection: connection.duplicate(), concurrency: 8 },
  );
  while (done < add.calls && performance.now() - t0 < 300_000) await sleep(20);
  const processRate = (done * 1000) / (performance.now() - t0);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  ctx.rows.push({
    id: 'bullmq-raw',
    group: 'alerts (matching, webhook delivery)',
    label: 'raw BullMQ add, 16 callers (reference only)',
    eventsPerSec: add.eventsPerSec,
    p50: add.latency.p50,
    p99: add.latency.p99,
  });
  ctx.rows.push({
    id: 'bullmq-raw-process',
    group: 'alerts (matching, webhook delivery)',
    label: 'raw BullMQ process no-op, concurrency 8 (reference only)',
    eventsPerSec: processRate,
  });
  return { addRate: add.eventsPerSec, processRate };
}
