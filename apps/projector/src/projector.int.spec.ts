import { loadCorpus } from '@regstream/corpus';
import type { StoredEvent } from '@regstream/domain';
import { START } from '@regstream/event-store';
import { KafkaEventSource, KafkaPublisher } from '@regstream/messaging';
import type { Projector } from '@regstream/projections';
import { appendToStore, generateHistory, openPostgresModels, type TestModels, toStored } from '@regstream/projections/testing';
import { createTestDatabase, createTopic, type TestDatabase, testKafka, uniqueName, waitFor } from '@regstream/test-helpers';

/**
 * Projector processes in distributed mode: each is a member of the 'projector' consumer group on a
 * real broker, with its own connection pool to a real PostgreSQL. Several members must build exactly
 * what one builds.
 */
let db: TestDatabase;
let models: TestModels;
let stored: StoredEvent[];
const kafka = testKafka('rs-projector-int');

beforeAll(async () => {
  db = await createTestDatabase('rs_projector');
  models = await openPostgresModels(db.url);
  const history = [...loadCorpus().events, ...generateHistory({ seed: 9, events: 2500, stanceShare: 0.05, correctionShare: 0.02, retractionShare: 0.01 })];
  await appendToStore(models.store, toStored(history), 1000);
  stored = [];
  let cp = START;
  for (;;) {
    const page = await models.store.readAll(cp, 2000);
    if (page.events.length === 0) break;
    stored.push(...page.events);
    cp = page.checkpoint;
  }
}, 60_000);

afterAll(async () => {
  await models.close();
  await db.drop();
});

interface Member {
  readonly projector: Projector;
  readonly source: KafkaEventSource;
  readonly partitions: Set<string>;
  close(): Promise<void>;
}

async function member(topic: string, groupId: string): Promise<Member> {
  const own = await openPostgresModels(db.url);
  const source = new KafkaEventSource(kafka, topic);
  const partitions = new Set<string>();
  // One batch at a time within a member, as ProjectorService applies them (see concurrency.int.spec.ts).
  await source.run({ groupId, checkpoint: (p) => own.projector.checkpoint(p), fromBeginning: true, concurrency: 1 }, async (b) => {
    partitions.add(b.partition);
    await own.projector.applyBatch(b.partition, b.events, b.offsets);
  });
  return {
    projector: own.projector,
    source,
    partitions,
    close: async () => {
      await source.stop();
      await own.close();
    },
  };
}

async function publish(topic: string, events: readonly StoredEvent[]): Promise<void> {
  const publisher = new KafkaPublisher(kafka, topic);
  try {
    for (let i = 0; i < events.length; i += 500) await publisher.publish(events.slice(i, i + 500));
  } finally {
    await publisher.close();
  }
}

const applied = async (model = 'v1') => Number((await models.dataSource.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM rm_${model}_facts`))[0]?.n);

it('two projector members of one group on a real broker build the same read models as one process', async () => {
  const topic = uniqueName('rs.projector');
  await createTopic(kafka, topic, 6);
  const groupId = uniqueName('projector');
  const third = Math.floor(stored.length / 3);
  const a = await member(topic, groupId);
  await publish(topic, stored.slice(0, third));
  // (KafkaJS joins the group in the background: wait for work, not for run() to return.)
  await waitFor(() => (a.partitions.size > 0 ? true : undefined), 60_000, 100);
  const b = await member(topic, groupId);
  try {
    await publish(topic, stored.slice(third, 2 * third));
    // The group rebalances: usually the second member takes partitions over while the first is
    // mid-stream (if the first was quicker, the second takes everything over when the first leaves).
    await waitFor(() => (b.partitions.size > 0 ? true : undefined), 20_000, 100).catch(() => undefined);
    await waitFor(async () => ((await applied()) >= 2 * third ? true : undefined), 90_000, 250);
    // A member leaves mid-stream: the other takes its partitions over from the stored checkpoints.
    await a.close();
    await publish(topic, stored.slice(2 * third));
    await waitFor(async () => ((await applied()) === stored.length ? true : undefined), 90_000, 250);
    // Both members did work.
    expect(a.partitions.size).toBeGreaterThan(0);
    expect(b.partitions.size).toBeGreaterThan(0);
  } finally {
    await a.close();
    await b.close();
  }
  // One process: the same events replayed from the store into a separate model.
  await models.projector.rebuild(models.store, { name: 'one_process' });
  const two = await models.projector.checksum('v1');
  const one = await models.projector.checksum('x_one_process');
  expect(two.tables).toEqual(one.tables);
  expect(two.digest).toBe(one.digest);
  expect(await models.projector.deadLetters()).toEqual([]);
}, 180_000);
