import { type EventStore, openEventStore } from '@regstream/event-store';
import { testEvent } from '@regstream/event-store/testing';
import { ensureTopic, fromKafkaMessage, KafkaPublisher, OUTBOX_CHANNEL, OutboxListener, OutboxRelay } from '@regstream/messaging';
import { createTestDatabase, type TestDatabase, testKafka, uniqueName, waitFor } from '@regstream/test-helpers';
import type { Consumer } from 'kafkajs';

/**
 * The relay as relay-main.ts composes it (LISTEN on regstream_outbox, a fallback poll), with a poll
 * of a minute: an append reaches Kafka within milliseconds only through the wake-up.
 */
jest.setTimeout(120_000);

let db: TestDatabase;
let store: EventStore;
let sql: Awaited<ReturnType<typeof openEventStore>>['dataSource'];
const kafka = testKafka('rs-relay-listen');

beforeAll(async () => {
  db = await createTestDatabase('rs_relay_listen');
  ({ store, dataSource: sql } = await openEventStore({ kind: 'postgres', url: db.url }));
});
afterAll(async () => {
  await store.close();
  await db.drop();
});

it('delivers an append to Kafka promptly though the relay polls once a minute', async () => {
  const topic = uniqueName('rs.relay-listen');
  await ensureTopic(kafka, topic, 6);
  const publisher = new KafkaPublisher(kafka, topic);
  const relay = new OutboxRelay(store, publisher, { idleMs: 60_000, notifiedIdleMs: 60_000 });
  const listener = new OutboxListener({ connectionString: db.url }, () => relay.wake());
  const arrived = new Map<string, number>();
  const consumer: Consumer = kafka.consumer({ groupId: uniqueName('verify'), maxWaitTimeInMs: 10 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({ eachMessage: ({ message }) => Promise.resolve(void arrived.set(fromKafkaMessage(message).id, Date.now())) });
    relay.start();
    await listener.start();
    // Warm up: the producer connects on its first batch.
    const warm = await store.appendBatch([{ streamId: 'instrument-relay-warm', events: [testEvent('instrument-relay-warm')] }]);
    await sql.query(`NOTIFY ${OUTBOX_CHANNEL}`);
    await waitFor(() => (warm.events.every((e) => arrived.has(e.id)) ? true : undefined), 30_000, 10);

    const lags: number[] = [];
    for (let i = 0; i < 10; i++) {
      const streamId = `instrument-relay-listen-${i % 3}`;
      const appended = Date.now();
      const r = await store.appendBatch([{ streamId, events: [testEvent(streamId)] }]);
      // What the store sends after the commit of an append (sent here by hand as well, so this test
      // does not depend on which side lands first; a second notification is harmless).
      await sql.query(`NOTIFY ${OUTBOX_CHANNEL}`);
      const id = r.events[0]?.id as string;
      await waitFor(() => (arrived.has(id) ? true : undefined), 5_000, 2);
      lags.push((arrived.get(id) ?? Infinity) - appended);
    }
    lags.sort((a, b) => a - b);
    // Far under the minute's poll; the median under 200 ms even on a busy shared machine.
    expect(lags[lags.length - 1]).toBeLessThan(2_000);
    expect(lags[Math.floor(lags.length / 2)]).toBeLessThan(200);
    expect(listener.stats.notifications).toBeGreaterThanOrEqual(10);
    // The relay acknowledges (deletes) a batch just after the broker took it.
    await waitFor(async () => ((await store.outboxSize()) === 0 ? true : undefined), 5_000, 10);
  } finally {
    await listener.stop();
    await relay.stop();
    await publisher.close();
    await consumer.disconnect();
  }
});
