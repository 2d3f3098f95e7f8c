import { createTopic, testKafka, uniqueName, waitFor } from '@regstream/test-helpers';
import type { Consumer, Kafka } from 'kafkajs';
import { busContract, busEvent } from '../testing';
import type { SourceBatch } from '../types';
import { KafkaEventSource, KafkaPublisher } from './kafka';

busContract(
  'kafka (real broker)',
  async () => {
    const kafka = testKafka();
    const topic = uniqueName('rs-test');
    await createTopic(kafka, topic, 6);
    const publisher = new KafkaPublisher(kafka, topic);
    return { publisher, source: () => new KafkaEventSource(kafka, topic), close: () => publisher.close() };
  },
  40000,
);

/** What a consumer asked the broker for: group joins and offset commits (KafkaJS instrumentation). */
interface Watched {
  readonly joins: number[];
  readonly offsetCommits: number[];
}

/** A client whose consumers report their group joins and offset commits. */
function watchedKafka(): { kafka: Kafka; watched: Watched } {
  const kafka = testKafka();
  const watched: Watched = { joins: [], offsetCommits: [] };
  const make = kafka.consumer.bind(kafka);
  kafka.consumer = (config) => {
    const c: Consumer = make(config);
    c.on(c.events.GROUP_JOIN, () => void watched.joins.push(Date.now()));
    c.on(c.events.REQUEST, (e) => {
      if (e.payload.apiName === 'OffsetCommit') watched.offsetCommits.push(Date.now());
    });
    return c;
  };
  return { kafka, watched };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('KafkaEventSource on a real broker', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });

  async function setup(partitions = 6) {
    const { kafka, watched } = watchedKafka();
    const topic = uniqueName('rs-source');
    await createTopic(kafka, topic, partitions);
    const publisher = new KafkaPublisher(kafka, topic);
    const source = new KafkaEventSource(kafka, topic);
    stops.push(() => publisher.close(), () => source.stop());
    return { watched, publisher, source, groupId: uniqueName('g') };
  }

  it('keeps a member whose batch outlasts the session timeout: no eviction, no redelivery', async () => {
    const { watched, publisher, source, groupId } = await setup(1);
    const delivered: string[] = [];
    let slow = true;
    await source.run({ groupId, sessionTimeoutMs: 6000 }, async (b) => {
      delivered.push(...b.events.map((e) => e.id));
      if (slow) {
        slow = false;
        // Two and a half session timeouts inside one batch.
        await sleep(15_000);
      }
    });
    const first = Array.from({ length: 5 }, (_, i) => busEvent('instrument-slow', i + 1));
    await publisher.publish(first);
    await waitFor(() => (delivered.length >= 5 ? true : undefined), 30_000, 50);
    await waitFor(() => (slow ? undefined : true), 30_000, 50);
    // Let the slow batch finish and the consumer fetch again.
    await sleep(16_000);
    const second = Array.from({ length: 5 }, (_, i) => busEvent('instrument-slow', i + 6));
    await publisher.publish(second);
    await waitFor(() => (delivered.length >= 10 ? true : undefined), 30_000, 50);
    await sleep(1000);
    expect(delivered).toEqual([...first, ...second].map((e) => e.id));
    // Joined once: the coordinator never dropped the member.
    expect(watched.joins).toHaveLength(1);
  }, 90_000);

  it('handles the partitions concurrently, each partition one batch at a time and in order', async () => {
    const { publisher, source, groupId } = await setup(6);
    const inFlight = new Map<string, number>();
    let most = 0;
    let overlapWithinPartition = false;
    const got: SourceBatch[] = [];
    await source.run({ groupId }, async (b) => {
      const n = (inFlight.get(b.partition) ?? 0) + 1;
      if (n > 1) overlapWithinPartition = true;
      inFlight.set(b.partition, n);
      most = Math.max(most, [...inFlight.values()].reduce((s, x) => s + x, 0));
      await sleep(300);
      got.push(b);
      inFlight.set(b.partition, (inFlight.get(b.partition) ?? 1) - 1);
    });
    const events = Array.from({ length: 240 }, (_, i) => busEvent(`instrument-c${i % 24}`, Math.floor(i / 24) + 1));
    await sleep(3000); // the group settles
    for (let i = 0; i < events.length; i += 40) await publisher.publish(events.slice(i, i + 40));
    await waitFor(() => (got.reduce((s, b) => s + b.events.length, 0) >= events.length ? true : undefined), 60_000, 50);
    expect(overlapWithinPartition).toBe(false);
    expect(most).toBeGreaterThan(1);
    const all = got.flatMap((b) => b.events);
    for (let s = 0; s < 24; s++) {
      const versions = all.filter((e) => e.subject === `instrument-c${s}`).map((e) => e.streamversion);
      expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    }
  }, 90_000);

  it('with concurrency 1, never hands over two batches at once', async () => {
    const { publisher, source, groupId } = await setup(6);
    let inFlight = 0;
    let most = 0;
    let n = 0;
    await source.run({ groupId, concurrency: 1 }, async (b) => {
      most = Math.max(most, ++inFlight);
      await sleep(50);
      n += b.events.length;
      inFlight -= 1;
    });
    await sleep(3000);
    await publisher.publish(Array.from({ length: 120 }, (_, i) => busEvent(`instrument-s${i % 12}`, Math.floor(i / 12) + 1)));
    await waitFor(() => (n >= 120 ? true : undefined), 60_000, 50);
    expect(most).toBe(1);
  }, 90_000);

  it('commits offsets to Kafka every few seconds, not after every batch', async () => {
    const { watched, publisher, source, groupId } = await setup(6);
    let batches = 0;
    let n = 0;
    await source.run({ groupId }, (b) => {
      batches += 1;
      n += b.events.length;
      return Promise.resolve();
    });
    await sleep(3000);
    const started = Date.now();
    // Many small batches over about four seconds.
    for (let i = 0; i < 40; i++) {
      await publisher.publish(Array.from({ length: 6 }, (_, j) => busEvent(`instrument-k${j}`, i + 1)));
      await sleep(100);
    }
    await waitFor(() => (n >= 240 ? true : undefined), 30_000, 50);
    const seconds = (Date.now() - started) / 1000;
    expect(batches).toBeGreaterThanOrEqual(40);
    expect(watched.offsetCommits.filter((t) => t >= started).length).toBeLessThanOrEqual(Math.ceil(seconds / 5) + 1);
  }, 60_000);
});
