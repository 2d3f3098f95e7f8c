import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { toKafkaMessage } from '@regstream/messaging';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { appEnv, type BenchContext } from '../context';
import { JURISDICTIONS, toEnvelope } from '../generator';
import { AppProcess, freePort, REPO_ROOT, sleep } from '../procs';
import { Rng } from '../rng';
import { BenchDatabase, issueApiKey, REDIS_URL } from '../services';
import { Recorder } from '../stats';
import { history } from '../workload';
import type { BullReference } from './bullmq';

const GROUP = 'alerts (matching, webhook delivery)';

/** A webhook receiver in the bench process: answers 204 and notes when each delivery arrived. */
function receiver(): Promise<{ server: Server; port: number; arrivals: number[]; bodies: string[] }> {
  const arrivals: number[] = [];
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      arrivals.push(performance.now());
      if (bodies.length < 3) bodies.push(Buffer.concat(chunks).toString('utf8').slice(0, 500));
      res.writeHead(204);
      res.end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve({ server, port: a && typeof a === 'object' ? a.port : 0, arrivals, bodies });
    }),
  );
}

/**
 * The alerts process (apps/alerts/dist/main.js: consumer group, matcher, BullMQ delivery worker) with
 * event-rule webhook subscriptions; a backlog of events is produced to its topic and the bench measures
 * how fast they are matched (the consumer's checkpoints) and how fast webhooks arrive at a local receiver.
 * References: raw KafkaJS consume and raw BullMQ processing of no-op jobs, measured in this run.
 */
export async function alertsSuite(ctx: BenchContext, bull: BullReference | null, kafkaConsumeRate: number | null): Promise<void> {
  if (!existsSync(join(REPO_ROOT, 'apps/alerts/dist/main.js'))) {
    ctx.notes.push('alerts: apps/alerts is not built in this tree; not measured');
    return;
  }
  const db = await BenchDatabase.create('alerts');
  ctx.cleanup.push(() => db.drop());
  const topic = await ctx.topics.create('alerts-events');
  const hook = await receiver();
  ctx.cleanup.push(() => new Promise<void>((r) => hook.server.close(() => r())));
  const port = await freePort();
  const alerts = await AppProcess.start('alerts', 'apps/alerts/dist/main.js', {
    env: appEnv(db.url, port, topic, { REGSTREAM_WEBHOOK_ALLOWLIST: '127.0.0.1/32', REGSTREAM_ALERTS_MAX_ATTEMPTS: '1' }),
    readyUrl: `http://127.0.0.1:${port}/healthz`,
    cpuProf: ctx.cpuProf.has('alerts'),
    timeoutMs: 90_000,
  });
  ctx.cleanup.push(() => alerts.stop());
  ctx.cleanup.push(async () => {
    // The alerts queue lives in the bench's own Redis database: remove what this run left there.
    const conn = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
    const q = new Queue('regstream-alerts', { connection: conn });
    await q.obliterate({ force: true }).catch(() => undefined);
    await q.close();
    conn.disconnect();
  });
  const key = await issueApiKey(db);

  // Subscriptions: event rules on one or two jurisdictions and a few event types each (sparse, as
  // followers of a regime are), every one a webhook to the receiver.
  const rng = new Rng(ctx.seed + 200);
  const subs = 100;
  const types = ['InstrumentAdopted', 'InstrumentEnteredIntoForce', 'ProvisionBecameApplicable', 'ApplicationPostponed', 'StanceCoded', 'RecordCorrected', 'InstrumentAmended', 'GuidanceIssued'];
  for (let i = 0; i < subs; i++) {
    const jurisdictions = [...new Set([rng.pick(JURISDICTIONS.slice(0, 10)), rng.pick(JURISDICTIONS.slice(0, 60))])];
    const eventTypes = [...new Set([rng.pick(types), rng.pick(types), rng.pick(types)])];
    const res = await fetch(`http://127.0.0.1:${port}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: `bench ${i}`, filters: { jurisdictions, eventTypes }, rule: { kind: 'event' }, channel: { kind: 'webhook', url: `http://127.0.0.1:${hook.port}/hook/${i}` } }),
    });
    if (!res.ok) throw new Error(`creating a subscription: ${res.status} ${(await res.text()).slice(0, 300)}`);
  }

  // The backlog: generated events as the relay would publish them.
  const n = Number(process.env['BENCH_ALERT_EVENTS'] ?? (ctx.profile === 'full' ? 50_000 : 10_000));
  const versions = new Map<string, number>();
  const recorded = new Date().toISOString();
  const messages = history(ctx.seed + 201, n, 'al').map((g, i) => {
    const env = toEnvelope(g);
    const v = (versions.get(env.subject) ?? 0) + 1;
    versions.set(env.subject, v);
    return toKafkaMessage({ ...env, recordedtime: recorded, streamversion: v, position: String(i + 1) });
  });
  ctx.log(`alerts: ${subs} webhook subscriptions, ${n} events`);
  alerts.resetPeak();
  const producer = ctx.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const t0 = performance.now();
  for (let i = 0; i < messages.length; i += 1000) await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 1000) });
  await producer.disconnect();

  let consumed = 0;
  let matchedAt = 0;
  const deadline = t0 + 600_000;
  while (performance.now() < deadline) {
    const [r] = await db.query<{ n: string | null }>(`SELECT sum(last_offset::bigint + 1)::text AS n FROM alert_checkpoints WHERE partition_key NOT LIKE 'bus-%'`);
    consumed = Number(r?.n ?? 0);
    if (consumed >= n) {
      matchedAt = performance.now();
      break;
    }
    await sleep(50);
  }
  const [m] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM alert_matches`);
  const matches = Number(m?.n ?? 0);
  // Deliveries: wait until the receiver stops seeing new ones (or all matches arrived).
  let last = -1;
  while (performance.now() < deadline && hook.arrivals.length < matches) {
    await sleep(500);
    if (hook.arrivals.length === last) {
      const [d] = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM alert_deliveries WHERE status NOT IN ('delivered', 'dead', 'failed')`);
      if (Number(d?.n ?? 0) === 0) break;
    }
    last = hook.arrivals.length;
  }
  const peak = alerts.memory().hwmMb;
  const matchRate = matchedAt ? (consumed * 1000) / (matchedAt - t0) : (consumed * 1000) / (performance.now() - t0);
  const arrivals = hook.arrivals;
  const firstArrival = arrivals[0] ?? t0;
  const lastArrival = arrivals[arrivals.length - 1] ?? t0;
  const deliveryRate = arrivals.length > 1 ? ((arrivals.length - 1) * 1000) / (lastArrival - firstArrival) : 0;
  const gaps = new Recorder();
  for (const a of arrivals) gaps.record(a - t0);
  if (consumed < n) ctx.notes.push(`alerts: only ${consumed} of ${n} events matched within 10 minutes`);
  if (arrivals.length < matches) ctx.notes.push(`alerts: ${arrivals.length} of ${matches} webhook deliveries arrived`);
  ctx.rows.push({
    id: 'alerts-matching',
    group: GROUP,
    label: `alert matching, ${subs} subscriptions, ${n.toLocaleString('en-US')} events`,
    eventsPerSec: matchRate,
    rssMb: { alerts: peak },
    ...(kafkaConsumeRate ? { ref: { label: 'raw KafkaJS consume', eventsPerSec: kafkaConsumeRate }, ratio: matchRate / kafkaConsumeRate, ratioOf: 'throughput' as const } : {}),
    extra: { matches, consumed },
  });
  ctx.rows.push({
    id: 'alerts-webhooks',
    group: GROUP,
    label: `webhook delivery (${arrivals.length.toLocaleString('en-US')} deliveries), per s`,
    eventsPerSec: deliveryRate,
    p50: gaps.summary().p50,
    p99: gaps.summary().p99,
    rssMb: { alerts: peak },
    ...(bull ? { ref: { label: 'raw BullMQ process no-op jobs', eventsPerSec: bull.processRate }, ratio: deliveryRate / bull.processRate, ratioOf: 'throughput' as const } : {}),
    note: 'p50/p99: time from the start of the backlog to each arrival',
    extra: { sample: hook.bodies[0] ?? null },
  });
  await alerts.stop();
}
