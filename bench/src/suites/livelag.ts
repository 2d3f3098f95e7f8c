import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { appEnv, type BenchContext } from '../context';
import { type GenEvent, hashString } from '../generator';
import { keepAliveAgent, send } from '../loadgen';
import { AppProcess, freePort, sleep } from '../procs';
import { type BenchDatabase, issueApiKey } from '../services';
import { Recorder } from '../stats';
import { batchesOf, history } from '../workload';
import type { ApiHandle } from './asof';
import type { KafkaReference } from './relay';

const GROUP = 'live path: append → relay → Kafka → projector → queryable';

/** The projector's consumer statistics (GET /v1/admin/projections), to split its lag into waiting and applying. */
interface ConsumerStats {
  readonly batches: number;
  readonly applied: number;
  readonly applyMs: number;
  readonly waitMs: number;
  /** Transactions (the batches of partitions that waited meanwhile are applied together). */
  readonly transactions: number;
}

async function consumerStats(base: string, key: string): Promise<ConsumerStats | null> {
  const res = await fetch(`${base}/v1/admin/projections`, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(10_000) }).catch(() => null);
  if (!res?.ok) return null;
  const body = (await res.json()) as { consumer?: Partial<ConsumerStats> };
  const c = body.consumer ?? {};
  return { batches: c.batches ?? 0, applied: c.applied ?? 0, applyMs: c.applyMs ?? 0, waitMs: c.waitMs ?? 0, transactions: c.transactions ?? c.batches ?? 0 };
}

/**
 * Every process of the distributed deployment on the seeded history: ingest (relay off), relay,
 * projector. A steady 1,000 events/s is appended over HTTP: 20 lanes (streams split by hash, so a
 * stream's events stay in order) each send, every 100 ms, what became due as one batch. An event is
 * queryable when its row is in the live model's facts table (written in the same transaction as every
 * read-model change and the checkpoint); a poller looks for all pending ids every 5 ms.
 */
export async function liveLag(ctx: BenchContext, db: BenchDatabase, size: number, kafka: KafkaReference | null, api: ApiHandle | null): Promise<void> {
  const topic = await ctx.topics.create(`live-${size}`);
  const ingestPort = await freePort();
  const procs: AppProcess[] = [];
  const stopAll = async () => {
    for (const p of procs.reverse()) await p.stop();
  };
  ctx.cleanup.push(stopAll);
  const ingest = await AppProcess.start('ingest', 'apps/ingest/dist/main.js', {
    env: appEnv(db.url, ingestPort, topic, { REGSTREAM_RELAY: 'off' }),
    readyUrl: `http://127.0.0.1:${ingestPort}/healthz`,
    cpuProf: ctx.cpuProf.has('ingest'),
  });
  procs.push(ingest);
  const relay = await AppProcess.start('relay', 'apps/ingest/dist/relay-main.js', { env: appEnv(db.url, await freePort(), topic), readyText: 'relay running', cpuProf: ctx.cpuProf.has('relay') });
  procs.push(relay);
  const projPort = await freePort();
  const projector = await AppProcess.start('projector', 'apps/projector/dist/main.js', {
    env: appEnv(db.url, projPort, topic),
    readyUrl: `http://127.0.0.1:${projPort}/healthz`,
    cpuProf: ctx.cpuProf.has('projector'),
    timeoutMs: 180_000,
  });
  procs.push(projector);
  const key = await issueApiKey(db);
  // A raw consumer of the same topic splits the lag: commit → in Kafka (relay), in Kafka → queryable (projector).
  const inKafkaAt = new Map<string, number>();
  const tap = ctx.kafka.consumer({ groupId: `${topic}.tap`, maxWaitTimeInMs: 10 });
  await tap.connect();
  await tap.subscribe({ topic, fromBeginning: true });
  void tap.run({
    eachMessage: async ({ message }) => {
      await Promise.resolve();
      const id = message.headers?.['ce_id']?.toString();
      if (id) inKafkaAt.set(id, performance.now());
    },
  });
  await sleep(3000); // consumer groups join

  const pg = new Client({ connectionString: db.url });
  await pg.connect();
  const [state] = (await pg.query<{ active_model: string }>(`SELECT active_model FROM rm_state WHERE projector = 'projector'`)).rows;
  const facts = `rm_${state?.active_model ?? 'v1'}_facts`;

  const seconds = ctx.profile === 'full' ? 30 : 15;
  const rate = 1000;
  // Live events are known as they arrive (a day's span), unlike the backfilled history they extend.
  const events = history(ctx.seed + 400, rate * seconds, 'live', { from: '2026-11-28', to: '2026-11-29' });
  const lanes = 20;
  const laneQueues: GenEvent[][] = Array.from({ length: lanes }, () => []);
  const due = new Map<string, number>();
  events.forEach((e, i) => {
    laneQueues[hashString(e.subject) % lanes]?.push(e);
    due.set(e.id, (i * 1000) / rate);
  });
  const sentAt = new Map<string, number>();
  const ackAt = new Map<string, number>();
  const visibleAt = new Map<string, number>();
  const lagFromSend = new Recorder();
  const lagFromAck = new Recorder();
  const agent = keepAliveAgent(lanes);
  let failed = 0;
  let firstFailure = '';
  ingest.resetPeak();
  relay.resetPeak();
  projector.resetPeak();
  const projBase = `http://127.0.0.1:${projPort}`;
  const statsBefore = await consumerStats(projBase, key);
  const t0 = performance.now();
  let sending = true;

  const lane = async (q: GenEvent[]) => {
    let next = 0;
    while (next < q.length) {
      const now = performance.now() - t0;
      const ready: GenEvent[] = [];
      while (next + ready.length < q.length && (due.get((q[next + ready.length] as GenEvent).id) ?? 0) <= now && ready.length < 100) ready.push(q[next + ready.length] as GenEvent);
      if (ready.length === 0) {
        await sleep(Math.max(1, (due.get((q[next] as GenEvent).id) ?? 0) - now));
        continue;
      }
      const batch = batchesOf(ready, 100)[0] as GenEvent[];
      next += batch.length;
      const s = performance.now();
      for (const e of batch) sentAt.set(e.id, s);
      const res = await send(agent, `http://127.0.0.1:${ingestPort}`, { method: 'POST', path: '/v1/events', body: Buffer.from(JSON.stringify({ events: batch })) }, { authorization: `Bearer ${key}` }).catch(
        (e: unknown) => ({ status: 0, body: Buffer.from(String(e)) }),
      );
      const a = performance.now();
      if (res.status !== 201) {
        failed += batch.length;
        if (!firstFailure) firstFailure = `${res.status} ${res.body.toString('utf8').slice(0, 300)}`;
        for (const e of batch) sentAt.delete(e.id);
      } else for (const e of batch) ackAt.set(e.id, a);
      // Pace: at most one batch per 100 ms per lane.
      const wait = 100 - (performance.now() - s);
      if (wait > 0) await sleep(wait);
    }
  };
  const poller = (async () => {
    const seen = new Set<string>();
    while (sending || seen.size < sentAt.size) {
      if (performance.now() - t0 > seconds * 1000 + 60_000) break;
      const pending = [...sentAt.keys()].filter((id) => !seen.has(id));
      if (pending.length) {
        const r = await pg.query<{ event_id: string }>(`SELECT event_id FROM ${facts} WHERE event_id = ANY($1::text[])`, [pending]);
        const now = performance.now();
        for (const row of r.rows) {
          seen.add(row.event_id);
          visibleAt.set(row.event_id, now);
          lagFromSend.record(now - (sentAt.get(row.event_id) ?? now));
          const ack = ackAt.get(row.event_id);
          if (ack !== undefined) lagFromAck.record(Math.max(0, now - ack));
        }
      }
      await sleep(5);
    }
    return seen.size;
  })();
  // A sampling profile of PostgreSQL for this database: which statements are running, every 20 ms.
  const pgSamples = new Map<string, number>();
  const sampler = (async () => {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    while (sending) {
      const r = await c.query<{ q: string; w: string | null }>(
        `SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90) AS q, wait_event AS w FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()`,
      );
      for (const row of r.rows) {
        const k = `${row.q}${row.w ? ` [${row.w}]` : ''}`;
        pgSamples.set(k, (pgSamples.get(k) ?? 0) + 1);
      }
      await sleep(20);
    }
    await c.end();
  })();
  await Promise.all(laneQueues.map(lane));
  const sendSeconds = (performance.now() - t0) / 1000;
  sending = false;
  const visible = await poller;
  const liveSeconds = (performance.now() - t0) / 1000;
  const statsAfter = await consumerStats(projBase, key);
  await sampler;
  await tap.disconnect();
  const relayLag = new Recorder();
  const projectorLag = new Recorder();
  for (const [id, k] of inKafkaAt) {
    const a = ackAt.get(id);
    if (a !== undefined) relayLag.record(Math.max(0, k - a));
  }
  for (const [id, v] of visibleAt) {
    const k = inKafkaAt.get(id);
    if (k !== undefined) projectorLag.record(Math.max(0, v - k));
  }
  const totalSamples = [...pgSamples.values()].reduce((a, b) => a + b, 0);
  const pgTop = [...pgSamples.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([q, n]) => `${((100 * n) / Math.max(1, totalSamples)).toFixed(0)}% ${q}`);
  agent.destroy();
  if (visible < sentAt.size) {
    const dl = await pg.query<{ n: string }>(`SELECT count(*)::text AS n FROM rm_dead_letters`).catch(() => ({ rows: [{ n: '?' }] }));
    const cps = await pg.query<{ partition_id: string; position: string }>(`SELECT * FROM rm_checkpoints`).catch(() => ({ rows: [] }));
    ctx.notes.push(
      `live lag diagnostics: dead letters ${dl.rows[0]?.n ?? '?'}; checkpoints ${JSON.stringify(cps.rows, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)).slice(0, 400)}; projector log: ${projector.log.trim().split('\n').slice(-5).join(' | ').slice(0, 600)}`,
    );
  }
  await pg.end();
  const peaks = { ingest: ingest.memory().hwmMb, relay: relay.memory().hwmMb, projector: projector.memory().hwmMb, ...(api ? { api: api.proc.memory().hwmMb } : {}) };
  await stopAll();

  const achieved = (events.length - failed) / sendSeconds;
  // The projector's share of the lag: batches applied during the run, and the time they took.
  const proj =
    statsBefore && statsAfter
      ? {
          batches: statsAfter.batches - statsBefore.batches,
          applied: statsAfter.applied - statsBefore.applied,
          applyMs: statsAfter.applyMs - statsBefore.applyMs,
          waitMs: statsAfter.waitMs - statsBefore.waitMs,
          transactions: statsAfter.transactions - statsBefore.transactions,
          seconds: liveSeconds,
        }
      : null;
  const projNote = proj
    ? `; projector applied ${proj.applied} events from ${proj.batches} partition batches in ${proj.transactions} transactions (mean ${(proj.applied / Math.max(1, proj.transactions)).toFixed(0)} events, ${(proj.applyMs / Math.max(1, proj.transactions)).toFixed(0)} ms each), applying ${(proj.applyMs / 1000).toFixed(1)} s of the ${proj.seconds.toFixed(1)} s`
    : '';
  if (failed) ctx.notes.push(`live lag: ${failed} events refused, e.g. ${firstFailure}`);
  if (visible < sentAt.size) ctx.notes.push(`live lag: ${sentAt.size - visible} appended events never became queryable within 60 s`);
  const s = lagFromSend.summary();
  const sa = lagFromAck.summary();
  const split = `201 → in Kafka p50 ${Math.round(relayLag.summary().p50)} ms p99 ${Math.round(relayLag.summary().p99)} ms, in Kafka → queryable p50 ${Math.round(projectorLag.summary().p50)} ms p99 ${Math.round(projectorLag.summary().p99)} ms${projNote}`;
  ctx.notes.push(`live lag on ${size.toLocaleString('en-US')}: ${split}`);
  ctx.rows.push({
    id: `live-lag-${size}`,
    group: GROUP,
    label: `live lag at ${Math.round(achieved).toLocaleString('en-US')} events/s on ${size.toLocaleString('en-US')} events`,
    eventsPerSec: achieved,
    p50: s.p50,
    p99: s.p99,
    rssMb: peaks,
    ...(kafka ? { ref: { label: 'raw Kafka produce → consume, 1 msg', p50: kafka.e2eP50, p99: kafka.e2eP99 }, ratio: s.p99 / kafka.e2eP99, ratioOf: 'latency' as const } : {}),
    target: { text: 'p50 < 100 ms, p99 < 1 s', pass: s.p50 < 100 && s.p99 < 1000 },
    note: `lag from the append request being sent; ${split}`,
    extra: { fromAck: sa, ackToKafka: relayLag.summary(), kafkaToQueryable: projectorLag.summary(), visible, appended: sentAt.size, failed, projector: proj, postgresActiveStatements: pgTop },
  });
  ctx.rows.push({
    id: `projector-rss-${size}`,
    group: GROUP,
    label: `projector peak RSS, live on ${size.toLocaleString('en-US')} events`,
    rssMb: { projector: peaks.projector },
    target: { text: '< 300 MB at 1M', pass: size >= 1_000_000 ? peaks.projector < 300 : null },
  });
}
