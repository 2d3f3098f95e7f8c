import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { Client } from 'pg';
import { openEventStore } from './datasource';
import { eventStoreContract, testEvent } from './testing';
import { START, type EventStore } from './types';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('rs_es');
});
afterAll(async () => {
  await db.drop();
});

async function fresh(): Promise<EventStore> {
  const { store, dataSource } = await openEventStore({ kind: 'postgres', url: db.url });
  await dataSource.query('TRUNCATE outbox, events, streams, idempotency_keys RESTART IDENTITY CASCADE');
  return store;
}

eventStoreContract('postgres (TypeORM + pg)', fresh);

describe('postgres commit order', () => {
  it('never lets a reader skip an event that commits after a later position', async () => {
    const store = await fresh();
    const slow = new Client({ connectionString: db.url });
    await slow.connect();
    try {
      // Transaction A takes a position first but commits last.
      await slow.query('BEGIN');
      const a = testEvent('instrument-slow');
      await slow.query(
        `INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, source, time, valid_time, known_time, recorded_time, data)
         VALUES ($1, 'instrument-slow', 1, 'InstrumentProposed', 1, 'test', 't', '2021-01-01', '2021-01-01', 'r', $2)`,
        [a.id, JSON.stringify(a.data)],
      );
      const b = testEvent('instrument-fast');
      await store.append('instrument-fast', [b]);

      const before = await store.readAll(START, 100);
      expect(before.events.map((e) => e.id)).toEqual([]);

      await slow.query('COMMIT');
      const after = await store.readAll(before.checkpoint, 100);
      expect(after.events.map((e) => e.id)).toEqual([a.id, b.id]);
    } finally {
      await slow.end();
      await store.close();
    }
  });
});
