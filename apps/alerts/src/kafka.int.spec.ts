import { KafkaEventSource, KafkaPublisher } from '@regstream/messaging';
import type { Infrastructure } from '@regstream/runtime';
import { createTestDatabase, createTopic, type TestDatabase, testKafka, uniqueName } from '@regstream/test-helpers';
import { client, sleep, until } from './testing/client';
import { type AlertsTestApp, event, postgresInfra, registered, startAlertsApp } from './testing/harness';
import { Receiver } from './testing/receiver';

let db: TestDatabase;
let infra: Infrastructure;
let t: AlertsTestApp;
let receiver: Receiver;
let publisher: KafkaPublisher;

beforeAll(async () => {
  db = await createTestDatabase('rs_alerts_kafka');
  const kafka = testKafka('alerts-it');
  const topic = uniqueName('rs-alerts-it');
  await createTopic(kafka, topic, 3);
  publisher = new KafkaPublisher(kafka, topic);
  infra = await postgresInfra(db.url, null, '127.0.0.1', { publisher, source: () => new KafkaEventSource(kafka, topic), kafka });
  t = await startAlertsApp(infra, { groupId: uniqueName('alerts') });
  receiver = await Receiver.start();
}, 60000);
afterAll(async () => {
  await t?.close();
  await receiver?.close();
  await infra?.close();
  await db?.drop();
});

describe('alerts consuming the Kafka topic', () => {
  it('consumes in its group, checkpoints in the same transaction, and never sends a redelivered message twice', async () => {
    await t.append(registered('eu-gpai-code', 'EU'));
    const created = await client(t.url, t.keys.alice).post('/v1/subscriptions', {
      name: 'GPAI code',
      filters: { instruments: ['eu-gpai-code'] },
      rule: { kind: 'event' },
      channel: { kind: 'webhook', url: `${receiver.url}/kafka` },
    });
    expect(created.status).toBe(201);
    const e = event('GuidanceIssued', { instrumentId: 'eu-gpai-code', guidanceKind: 'code_of_practice', title: 'General-Purpose AI Code of Practice' }, { validtime: '2025-07-10' });
    await t.append(e);
    await until(() => receiver.requests.find((r) => r.path === '/kafka'), 30000);
    const checkpoints = await infra.dataSource.query<{ partition_key: string; last_offset: string }[]>(`SELECT partition_key, last_offset FROM alert_checkpoints`);
    expect(checkpoints.length).toBeGreaterThan(0);
    expect(checkpoints.every((c) => /^\d+$/.test(c.partition_key))).toBe(true);

    // The same message again on the topic (a producer retry, a re-publication after a relay crash).
    const [stored] = (await infra.store.readStream('instrument-eu-gpai-code')).filter((x) => x.id === e.id);
    await publisher.publish([stored as NonNullable<typeof stored>]);
    // A consumer restart resumes from the checkpoint.
    await t.consumer.stop();
    await t.consumer.start();
    const later = event('InstrumentAmended', { instrumentId: 'eu-gpai-code' }, { validtime: '2025-08-01' });
    await t.append(later);
    await until(() => (receiver.requests.filter((r) => r.path === '/kafka').length >= 2 ? true : undefined), 30000);
    await sleep(1000);
    const ids = receiver.requests.filter((r) => r.path === '/kafka').map((r) => (JSON.parse(r.body) as { data: { event: { id: string } } }).data.event.id);
    expect(ids).toEqual([e.id, later.id]);
  }, 90000);
});
