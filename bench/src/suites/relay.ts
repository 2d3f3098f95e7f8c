import { performance } from 'node:perf_hooks';
import type { StoredEvent } from '@regstream/domain';
import { openEventStore, START } from '@regstream/event-store';
import { toKafkaMessage } from '@regstream/messaging';
import { appEnv, type BenchContext } from '../context';
import { AppProcess, freePort, sleep } from '../procs';
import { Recorder } from '../stats';
import type { WriteOutcome } from './write';

export interface KafkaReference {
  readonly produceRate: number;
  readonly consumeRate: number;
  /** produce → consume latency of single messages (ms), the floor of any live lag. */
  readonly e2eP50: number;
  readonly e2eP99: number;
}

/**
 * The outbox relay as its own process (apps/ingest/dist/relay-main.js) draining everything the write
 * suite appended, beside raw KafkaJS producing the very same messages with the same producer settings,
 * and a raw consumer reading them back.
 */
export async function relaySuite(ctx: BenchContext, write: WriteOutcome): Promise<KafkaReference> {
  const [{ n } = { n: '0' }] = await write.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM outbox`);
  const total = Number(n);
  ctx.log(`relay: draining ${total} events into Kafka`);
  const topic = ctx.topics.name('relay');
  ctx.topics.adopt(topic);
  const relay = await AppProcess.start('relay', 'apps/ingest/dist/relay-main.js', {
    env: appEnv(write.db.url, await freePort(), topic),
    readyText: 'relay running',
    cpuProf: ctx.cpuProf.has('relay'),
  });
  ctx.cleanup.push(() => relay.stop());
  const t0 = performance.now();
  const deadline = t0 + 600_000;
  // An index probe, not count(*): 40 counts a second of a 45,000-row outbox cost PostgreSQL ~10% of a
  // core, taken from the relay being measured on a 2-core machine.
  for (let drained = false; !drained && performance.now() < deadline; ) {
    await sleep(25);
    const [r] = await write.db.query<{ empty: boolean }>(`SELECT NOT EXISTS (SELECT 1 FROM outbox) AS empty`);
    drained = r?.empty ?? false;
  }
  const elapsed = performance.now() - t0;
  const [{ n: leftText } = { n: '0' }] = await write.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM outbox`);
  const left = Number(leftText);
  const relayPeak = relay.memory().hwmMb;
  const relayCpu = relay.cpuSeconds();
  await relay.stop();
  const relayRate = ((total - left) * 1000) / elapsed;
  if (left > 0) ctx.notes.push(`relay: ${left} events still in the outbox after 10 minutes`);

  // The same messages, through raw KafkaJS.
  const { store } = await openEventStore({ kind: 'postgres', url: write.db.url }, { poolSize: 2 });
  const events: StoredEvent[] = [];
  for (let cp = START; ; ) {
    const page = await store.readAll(cp, 5000);
    if (page.events.length === 0) break;
    events.push(...page.events);
    cp = page.checkpoint;
  }
  await store.close();
  const messages = events.map(toKafkaMessage);
  const rawTopic = await ctx.topics.create('raw-produce');
  const producer = ctx.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const p0 = performance.now();
  for (let i = 0; i < messages.length; i += 500) {
    await producer.send({ topic: rawTopic, acks: -1, messages: messages.slice(i, i + 500) });
  }
  const produceRate = (messages.length * 1000) / (performance.now() - p0);

  const consumeRate = await consumeAll(ctx, rawTopic, messages.length);
  const e2e = await endToEnd(ctx, producer);
  await producer.disconnect();

  ctx.rows.push({
    id: 'relay',
    group: 'outbox relay → Kafka',
    label: `relay process, ${total.toLocaleString('en-US')} events`,
    eventsPerSec: relayRate,
    rssMb: { relay: relayPeak },
    ref: { label: 'raw KafkaJS produce, same msgs, 500/send', eventsPerSec: produceRate },
    ratio: relayRate / produceRate,
    ratioOf: 'throughput',
    extra: { relayCpuMsPerEvent: (relayCpu * 1000) / Math.max(1, total), elapsedMs: elapsed },
  });
  const vsAppend = relayRate / write.bestAppendRate;
  ctx.rows.push({
    id: 'relay-vs-append',
    group: 'outbox relay → Kafka',
    label: 'relay rate ÷ best HTTP append rate',
    eventsPerSec: relayRate,
    ref: { label: 'best HTTP append rate (batches)', eventsPerSec: write.bestAppendRate },
    ratio: vsAppend,
    ratioOf: 'throughput',
    target: { text: '≥ 1.5× append rate', pass: vsAppend >= 1.5 },
  });
  ctx.rows.push({
    id: 'kafka-consume',
    group: 'outbox relay → Kafka',
    label: 'raw KafkaJS consume (reference only)',
    eventsPerSec: consumeRate,
    p50: e2e.p50,
    p99: e2e.p99,
    note: 'p50/p99: single-message produce → consume latency',
  });
  return { produceRate, consumeRate, e2eP50: e2e.p50, e2eP99: e2e.p99 };
}

async function consumeAll(ctx: BenchContext, topic: string, expected: number): Promise<number> {
  const consumer = ctx.kafka.consumer({ groupId: `${topic}.reader`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let seen = 0;
  let first = 0;
  const done = new Promise<number>((resolve) => {
    void consumer.run({
      eachBatch: async ({ batch }) => {
        if (first === 0) first = performance.now();
        seen += batch.messages.length;
        await Promise.resolve();
        if (seen >= expected) resolve(performance.now());
      },
    });
  });
  const timeout = sleep(300_000).then(() => performance.now());
  const end = await Promise.race([done, timeout]);
  await consumer.disconnect();
  return (seen * 1000) / Math.max(1, end - first);
}

/** One message at a time, produce → consume: the broker's own latency floor. */
async function endToEnd(ctx: BenchContext, producer: ReturnType<BenchContext['kafka']['producer']>): Promise<{ p50: number; p99: number }> {
  const topic = await ctx.topics.create('raw-latency', 1);
  const consumer = ctx.kafka.consumer({ groupId: `${topic}.reader`, maxWaitTimeInMs: 10 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const rec = new Recorder();
  const waiting = new Map<string, () => void>();
  void consumer.run({
    eachMessage: async ({ message }) => {
      await Promise.resolve();
      const k = message.key?.toString() ?? '';
      waiting.get(k)?.();
    },
  });
  await sleep(3000);
  for (let i = 0; i < 200; i++) {
    const k = `m${i}`;
    const t0 = performance.now();
    const seen = new Promise<void>((r) => waiting.set(k, r));
    await producer.send({ topic, acks: -1, messages: [{ key: k, value: 'x' }] });
    await Promise.race([seen, sleep(5000)]);
    rec.record(performance.now() - t0);
    waiting.delete(k);
  }
  await consumer.disconnect();
  const s = rec.summary();
  return { p50: s.p50, p99: s.p99 };
}
