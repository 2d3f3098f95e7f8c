import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@regstream/config';
import type { AnyEnvelope } from '@regstream/domain';
import { KafkaPublisher } from '@regstream/messaging';
import { applyAll, generateHistory, interleave, openPostgresModels, type TestBatch, toStored } from '@regstream/projections/testing';
import { createInfrastructure, type Infrastructure, RuntimeModule } from '@regstream/runtime';
import { createTestDatabase, type TestDatabase, TEST_KAFKA_BROKERS, testKafka, uniqueName, waitFor } from '@regstream/test-helpers';
import { ProjectorModule } from './projector.module';
import { ProjectorService } from './projector.service';

/**
 * The Kafka source hands the partitions' batches to the projector concurrently. Corrections and
 * retractions live in streams of their own here (ingest allows a correction of any stream), so a
 * batch of one partition recomputes keys that batches of other partitions also write: the service
 * must still build exactly what one-batch-at-a-time builds.
 */
function crossStream(history: readonly AnyEnvelope[]): AnyEnvelope[] {
  let n = 0;
  return history.map((e) => (e.type === 'RecordCorrected' || e.type === 'RecordRetracted' ? { ...e, subject: `corrections-${n++ % 7}` } : e));
}

const events = toStored(crossStream(generateHistory({ seed: 3, events: 2500, stanceShare: 0.2, correctionShare: 0.08, retractionShare: 0.03 })));
const batches = interleave(events, { seed: 3, partitions: 6, maxBatch: 25 });
let serialDigest: string;
const cleanup: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const db = await createTestDatabase('rs_conc_serial');
  const m = await openPostgresModels(db.url);
  try {
    await applyAll(m.projector, batches);
    serialDigest = (await m.projector.checksum()).digest;
  } finally {
    await m.close();
    await db.drop();
  }
}, 120_000);

afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function projectorApp(opts: { subscribe: boolean }): Promise<{ infra: Infrastructure; app: INestApplication; service: ProjectorService; topic: string }> {
  const db: TestDatabase = await createTestDatabase('rs_conc');
  cleanup.push(() => db.drop());
  const dir = mkdtempSync(join(tmpdir(), 'rs-conc-'));
  cleanup.push(() => Promise.resolve(rmSync(dir, { recursive: true, force: true })));
  const topic = uniqueName('rs.projector-conc');
  const infra = await createInfrastructure(
    loadConfig({
      DATABASE_URL: db.url,
      KAFKA_BROKERS: TEST_KAFKA_BROKERS.join(','),
      REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
      KAFKA_TOPIC_EVENTS: topic,
      REGSTREAM_DATA_DIR: dir,
    }),
  );
  cleanup.push(() => infra.close());
  const moduleRef = await Test.createTestingModule({ imports: [RuntimeModule.forRoot(infra, 'projector'), ProjectorModule.register({ subscribe: opts.subscribe })] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  cleanup.push(() => app.close());
  return { infra, app, service: app.get(ProjectorService), topic };
}

it('batches of all partitions handed over at once build what one batch at a time builds', async () => {
  const { service } = await projectorApp({ subscribe: false });
  const byPartition = new Map<string, TestBatch[]>();
  for (const b of batches) byPartition.set(b.partition, [...(byPartition.get(b.partition) ?? []), b]);
  await Promise.all(
    [...byPartition.values()].map(async (list) => {
      for (const b of list) await service.handle(b);
    }),
  );
  expect((await service.projector.checksum()).digest).toBe(serialDigest);
  expect(service.stats.failures).toBe(0);
  // Partitions did queue behind one another, and those waiting were applied together.
  expect(service.stats.waitMs).toBeGreaterThan(0);
  expect(service.stats.batches).toBe(batches.length);
  expect(service.stats.transactions).toBeLessThan(service.stats.batches);
}, 180_000);

it('consumes a real topic as the group projector.<topic>, all partitions at once, to the same read models', async () => {
  const { service, topic } = await projectorApp({ subscribe: true });
  const kafka = testKafka('rs-conc');
  const publisher = new KafkaPublisher(kafka, topic);
  cleanup.push(() => publisher.close());
  for (let i = 0; i < events.length; i += 250) await publisher.publish(events.slice(i, i + 250));
  await waitFor(() => (service.stats.applied >= events.length ? true : undefined), 150_000, 250);
  expect((await service.projector.checksum()).digest).toBe(serialDigest);
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([`projector.${topic}`]);
    expect(groups[0]?.members.length).toBe(1);
  } finally {
    await admin.disconnect();
  }
}, 240_000);
