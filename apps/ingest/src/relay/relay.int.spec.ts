import type { StoredEvent } from '@regstream/domain';
import { openEventStore, type EventStore, type OutboxBatch } from '@regstream/event-store';
import { testEvent } from '@regstream/event-store/testing';
import { ensureTopic, fromKafkaMessage, KafkaPublisher, kafkaClient, OutboxRelay } from '@regstream/messaging';
import { createTestDatabase, OwnKafka, type TestDatabase, waitFor } from '@regstream/test-helpers';
import { type Kafka, logLevel } from 'kafkajs';

jest.setTimeout(180_000);

let kafka: OwnKafka;
let db: TestDatabase;
let store: EventStore;
let client: Kafka;
const topic = 'regstream.regulatory-events.v1';

beforeAll(async () => {
  [kafka, db] = await Promise.all([OwnKafka.create(), createTestDatabase('rs_relay')]);
  store = (await openEventStore({ kind: 'postgres', url: db.url })).store;
  client = kafkaClient({ brokers: kafka.brokers, clientId: 'relay-test', topic }, { retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1000 }, logLevel: logLevel.NOTHING });
  await ensureTopic(client, topic, 6);
});
afterAll(async () => {
  await store?.close();
  await Promise.allSettled([kafka?.destroy(), db?.drop()]);
});

async function readTopic(expected: number, from = topic, partitions?: Map<string, number>): Promise<StoredEvent[]> {
  const consumer = client.consumer({ groupId: `verify-${Date.now()}` });
  const seen: StoredEvent[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: from, fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message, partition }) => {
      const e = fromKafkaMessage(message);
      seen.push(e);
      partitions?.set(e.id, partition);
      return Promise.resolve();
    },
  });
  try {
    await waitFor(() => (new Set(seen.map((e) => e.id)).size >= expected ? true : undefined), 60_000, 200);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

it('relays every acknowledged event across a kill -9 and restart of the broker, in stream order', async () => {
  const publisher = new KafkaPublisher(client, topic);
  const relay = new OutboxRelay(store, publisher, { batchSize: 200, idleMs: 50, maxBackoffMs: 1000 });
  relay.start();
  const acked: string[] = [];
  let killedAt = 0;
  let restartedAt = 0;
  for (let round = 0; round < 40; round++) {
    const events = Array.from({ length: 5 }, (_, i) => testEvent(`instrument-relay-${(round * 5 + i) % 7}`));
    const streams = new Map<string, typeof events>();
    for (const e of events) streams.set(e.subject, [...(streams.get(e.subject) ?? []), e]);
    const r = await store.appendBatch([...streams].map(([streamId, evs]) => ({ streamId, events: evs })));
    acked.push(...r.events.map((e) => e.id));
    relay.wake();
    if (round === 10) {
      kafka.kill9();
      killedAt = Date.now();
    }
    if (round === 20) {
      await kafka.start();
      restartedAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await waitFor(async () => ((await store.outboxSize()) === 0 ? true : undefined), 90_000, 100);
  const drainedAt = Date.now();
  await relay.stop();
  await publisher.close();

  const seen = await readTopic(acked.length);
  const ids = new Set(seen.map((e) => e.id));
  expect(acked.filter((id) => !ids.has(id))).toEqual([]);
  // At-least-once: duplicates are possible after a crash, but each stream keeps its order.
  const firstSeen = new Map<string, number[]>();
  const once = new Set<string>();
  for (const e of seen) {
    if (once.has(e.id)) continue;
    once.add(e.id);
    firstSeen.set(e.subject, [...(firstSeen.get(e.subject) ?? []), e.streamversion]);
  }
  for (const versions of firstSeen.values()) expect(versions).toEqual([...versions].sort((a, b) => a - b));
  console.log(
    `relay fault test: ${acked.length} acknowledged, ${seen.length} messages on the topic (${seen.length - ids.size} duplicates), ` +
      `broker down ${restartedAt - killedAt} ms, outbox drained ${drainedAt - restartedAt} ms after restart`,
  );
});

it('pipelined claims keep each partition in stream order, and a crash between produce and delete re-sends that batch, never loses it', async () => {
  const own = 'regstream.relay-pipeline.v1';
  await ensureTopic(client, own, 6);
  await waitFor(async () => ((await store.outboxSize()) === 0 ? true : undefined), 10_000, 100);
  const acked: string[] = [];
  for (let round = 0; round < 30; round++) {
    const events = Array.from({ length: 100 }, (_, i) => testEvent(`instrument-pipe-${(round * 100 + i) % 11}`));
    const streams = new Map<string, typeof events>();
    for (const e of events) streams.set(e.subject, [...(streams.get(e.subject) ?? []), e]);
    acked.push(...(await store.appendBatch([...streams].map(([streamId, evs]) => ({ streamId, events: evs })))).events.map((e) => e.id));
  }
  const kafkaPublisher = new KafkaPublisher(client, own, 70);
  // The 4th batch reaches Kafka, then the relay "dies" before deleting it: the error path is the
  // one a crash takes (its transaction, and the one claimed ahead, roll back).
  let calls = 0;
  const crashed: string[] = [];
  const publisher = {
    publish: async (events: readonly StoredEvent[]) => {
      await kafkaPublisher.publish(events);
      if (++calls === 4) {
        crashed.push(...events.map((e) => e.id));
        throw new Error('relay crashed after the produce, before the delete');
      }
    },
    close: () => kafkaPublisher.close(),
  };
  let claimsAhead = 0;
  const counted = (b: OutboxBatch | null): OutboxBatch | null => {
    const next = b?.claimNext;
    return b && next ? { ...b, claimNext: async (l: number) => (claimsAhead++, counted(await next(l))) } : b;
  };
  const source = { claimOutbox: async (limit: number) => counted(await store.claimOutbox(limit)) };
  const relay = new OutboxRelay(source, publisher, { batchSize: 250 });
  await expect(relay.drain()).rejects.toThrow(/crashed/);
  expect(await relay.drain()).toBe(acked.length - 3 * 250);
  await publisher.close();
  expect(claimsAhead).toBeGreaterThan(5);
  expect(await store.outboxSize()).toBe(0);

  const partitions = new Map<string, number>();
  const seen = await readTopic(acked.length, own, partitions);
  const ids = new Set(seen.map((e) => e.id));
  expect(acked.filter((id) => !ids.has(id))).toEqual([]);
  // Duplicates only from the crashed batch.
  expect(seen.length).toBe(acked.length + 250);
  const counts = new Map<string, number>();
  for (const e of seen) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
  expect([...counts].filter(([, n]) => n > 1).map(([id]) => id).sort()).toEqual([...crashed].sort());
  // Per partition, in offset order (the order readTopic saw them): each stream's first copies ascend.
  const byPartition = new Map<number, StoredEvent[]>();
  for (const e of seen) byPartition.set(partitions.get(e.id) ?? -1, [...(byPartition.get(partitions.get(e.id) ?? -1) ?? []), e]);
  for (const events of byPartition.values()) {
    const first = new Map<string, number[]>();
    const once = new Set<string>();
    for (const e of events) {
      if (once.has(e.id)) continue;
      once.add(e.id);
      first.set(e.subject, [...(first.get(e.subject) ?? []), e.streamversion]);
    }
    for (const versions of first.values()) expect(versions).toEqual(versions.map((_, i) => i + 1));
  }
});
