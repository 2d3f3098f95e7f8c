import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { Client, type Notification } from 'pg';
import type { DataSource } from 'typeorm';
import { openEventStore } from './datasource';
import { OUTBOX_CHANNEL } from './postgres';
import { eventStoreContract, testEvent } from './testing';
import { ConcurrencyError, START, type EventStore } from './types';

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

/** A session LISTENing on the outbox channel, collecting payloads in arrival order. */
async function listener(url: string): Promise<{ client: Client; payloads: string[]; next: () => Promise<string> }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  const payloads: string[] = [];
  let waiting: ((p: string) => void) | null = null;
  client.on('notification', (n: Notification) => {
    if (n.channel !== OUTBOX_CHANNEL) return;
    const w = waiting;
    waiting = null;
    if (w) w(n.payload ?? '');
    else payloads.push(n.payload ?? '');
  });
  await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
  const next = () =>
    new Promise<string>((resolve, reject) => {
      const queued = payloads.shift();
      if (queued !== undefined) return resolve(queued);
      const timer = setTimeout(() => reject(new Error('no notification within 5 s')), 5000);
      waiting = (p) => {
        clearTimeout(timer);
        resolve(p);
      };
    });
  return { client, payloads, next };
}

describe('postgres outbox notification', () => {
  it('wakes a session LISTENing on regstream_outbox after an append, and stays silent when nothing was written', async () => {
    const store = await fresh();
    const l = await listener(db.url);
    try {
      const s = `instrument-notify-${Date.now()}`;
      const e = testEvent(s);
      await store.append(s, [e], 'no_stream');
      expect(await l.next()).toBe('');

      // Only duplicates: no outbox row, so no notification. Closing the store waits for any notification
      // it is sending; the marker, committed after that, must then be the next thing the listener hears.
      const replay = await store.append(s, [e]);
      expect(replay.written).toBe(0);
      await store.close();
      await l.client.query(`SELECT pg_notify($1, 'marker')`, [OUTBOX_CHANNEL]);
      expect(await l.next()).toBe('marker');
    } finally {
      await l.client.end();
      await store.close();
    }
  });
});

/** regstream_append called as the store before this migration called it: arrays, one row per event. */
async function callAppend(c: Client, reqStreams: string[], reqExpected: (string | null)[], events: ReturnType<typeof testEvent>[]) {
  const rows = await c.query<{ event_id: string; stream_version: number; duplicate: boolean }>(
    `SELECT * FROM regstream_append($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::text[],
                                    $9::text[], $10::text[], $11::text, $12::jsonb[], $13::text[], $14::text[], $15::text[], $16::jsonb[])`,
    [
      reqStreams,
      reqExpected,
      events.map((e) => e.id),
      events.map((e) => e.subject),
      events.map((e) => e.type),
      events.map((e) => e.schemaversion),
      events.map((e) => e.source),
      events.map((e) => e.time),
      events.map((e) => e.validtime),
      events.map((e) => e.knowntime),
      '2026-11-29T00:00:00.000Z',
      events.map(() => null),
      events.map(() => null),
      events.map(() => null),
      events.map(() => null),
      events.map((e) => JSON.stringify(e.data)),
    ],
  );
  return rows.rows;
}

describe('postgres regstream_append (plpgsql, migrations EventStoreAppendPlpgsqlPostgres1764400000070 and 1764400000080)', () => {
  const fnInfo = async (ds: DataSource) =>
    (await ds.query<{ lang: string; config: string[] | null }[]>(`SELECT l.lanname AS lang, p.proconfig AS config FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang WHERE p.proname = 'regstream_append'`))[0];
  const hasOne = async (ds: DataSource) => (await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_proc WHERE proname = 'regstream_append_one'`))[0]?.n === 1;

  const outboxKeys = async (ds: DataSource) =>
    (await ds.query<{ n: number }[]>(`SELECT count(*)::int AS n FROM pg_constraint WHERE conrelid = 'outbox'::regclass AND contype = 'f'`))[0]?.n;

  it('is plpgsql with a generic plan, and the downs put the SQL function and the outbox key back', async () => {
    const { store, dataSource } = await openEventStore({ kind: 'postgres', url: db.url });
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      expect(await fnInfo(dataSource)).toEqual({ lang: 'plpgsql', config: ['plan_cache_mode=force_generic_plan'] });
      expect(await hasOne(dataSource)).toBe(true);
      expect(await outboxKeys(dataSource)).toBe(0);
      await dataSource.undoLastMigration({ transaction: 'each' });
      expect(await outboxKeys(dataSource)).toBe(1);
      await dataSource.undoLastMigration({ transaction: 'each' });
      expect(await fnInfo(dataSource)).toEqual({ lang: 'sql', config: null });
      expect(await hasOne(dataSource)).toBe(false);
      // The restored function appends (one event, several) and refuses a stale version, as before.
      const s = `instrument-down-${Date.now()}`;
      expect((await callAppend(c, [s], ['no_stream'], [testEvent(s)])).map((r) => r.stream_version)).toEqual([1]);
      expect((await callAppend(c, [s], ['1'], [testEvent(s), testEvent(s)])).map((r) => r.stream_version)).toEqual([2, 3]);
      await expect(callAppend(c, [s], ['1'], [testEvent(s)])).rejects.toMatchObject({ code: 'RS409' });
      // Up again: the store (which needs regstream_append_one) appends on the same stream.
      await dataSource.runMigrations({ transaction: 'each' });
      expect(await fnInfo(dataSource)).toEqual({ lang: 'plpgsql', config: ['plan_cache_mode=force_generic_plan'] });
      expect(await outboxKeys(dataSource)).toBe(0);
      expect((await store.append(s, [testEvent(s)], 3)).events.map((e) => e.streamVersion)).toEqual([4]);
      await expect(store.append(s, [testEvent(s)], 3)).rejects.toBeInstanceOf(ConcurrencyError);
    } finally {
      await c.end();
      await store.close();
    }
  });

  it('keeps the first expected version of a stream named twice, and reads a missing one as no expectation', async () => {
    const store = await fresh();
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      const a = `instrument-twice-${Date.now()}`;
      const b = `instrument-short-${Date.now()}`;
      // One event (handed to regstream_append_one), then several (the statement).
      expect((await callAppend(c, [a, a], ['no_stream', '7'], [testEvent(a)])).map((r) => r.stream_version)).toEqual([1]);
      await expect(callAppend(c, [a, a], ['7', '1'], [testEvent(a)])).rejects.toMatchObject({ code: 'RS409' });
      expect((await callAppend(c, [a, b], ['1'], [testEvent(a), testEvent(b), testEvent(b)])).map((r) => r.stream_version)).toEqual([2, 1, 2]);
      await expect(callAppend(c, [b, b], ['1', '2'], [testEvent(b), testEvent(b)])).rejects.toMatchObject({ code: 'RS409' });
    } finally {
      await c.end();
      await store.close();
    }
  });
});

describe('postgres outbox claims (pipelined relay)', () => {
  /** Appends `n` events to one stream each call, so positions and stream versions line up. */
  async function filled(store: EventStore, streams: readonly string[], perStream: number): Promise<void> {
    for (let v = 0; v < perStream; v++) for (const s of streams) await store.append(s, [testEvent(s)]);
  }
  const versions = (events: readonly { subject: string; streamversion: number }[]) => events.map((e) => `${e.subject}@${e.streamversion}`);

  it('claims the rows after a batch while it is out, and a relay that crashes before the ack loses nothing', async () => {
    const store = await fresh();
    try {
      await filled(store, ['instrument-pa', 'instrument-pb'], 3);
      const b1 = await store.claimOutbox(2);
      expect(versions(b1?.events ?? [])).toEqual(['instrument-pa@1', 'instrument-pb@1']);
      const b2 = await b1?.claimNext?.(2);
      expect(versions(b2?.events ?? [])).toEqual(['instrument-pa@2', 'instrument-pb@2']);
      // Both published, neither acked: the process dies (its transactions roll back).
      await b1?.release();
      await b2?.release();
      expect(await store.outboxSize()).toBe(6);
      const again = await store.claimOutbox(10);
      expect(versions(again?.events ?? [])).toEqual(['instrument-pa@1', 'instrument-pb@1', 'instrument-pa@2', 'instrument-pb@2', 'instrument-pa@3', 'instrument-pb@3']);
      await again?.ack();
      expect(await store.outboxSize()).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('removes rows only when their batch is acked, in any order of acks and claims ahead', async () => {
    const store = await fresh();
    try {
      await filled(store, ['instrument-q'], 5);
      const b1 = await store.claimOutbox(2);
      const b2 = await b1?.claimNext?.(2);
      // A crash after the first ack and before the second: only the first batch is gone.
      await b1?.ack();
      expect(await store.outboxSize()).toBe(3);
      const b3 = await b2?.claimNext?.(2);
      expect(versions(b3?.events ?? [])).toEqual(['instrument-q@5']);
      await b2?.release();
      await b3?.release();
      const rest = await store.claimOutbox(10);
      expect(versions(rest?.events ?? [])).toEqual(['instrument-q@3', 'instrument-q@4', 'instrument-q@5']);
      await expect(b2?.ack()).rejects.toThrow(/released/);
      await rest?.ack();
      expect(await store.claimOutbox(10)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('waits for a row another transaction holds instead of passing it, with or without a batch ahead', async () => {
    const store = await fresh();
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await filled(store, ['instrument-w'], 6);
      const b1 = await store.claimOutbox(2);
      // Another relay (an older one, or one that lost the lock) holds the row right after b1.
      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM outbox WHERE global_position = (SELECT min(global_position) FROM outbox WHERE global_position > $1) FOR UPDATE`, [b1?.events[1]?.position]);
      let done = false;
      const ahead = b1?.claimNext?.(2).then((b) => {
        done = true;
        return b;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false);
      await other.query('ROLLBACK');
      const b2 = await ahead;
      expect(versions(b2?.events ?? [])).toEqual(['instrument-w@3', 'instrument-w@4']);
      await b1?.ack();
      await b2?.ack();

      await other.query('BEGIN');
      await other.query(`SELECT 1 FROM outbox WHERE global_position = (SELECT min(global_position) FROM outbox) FOR UPDATE`);
      done = false;
      const fresh2 = store.claimOutbox(10).then((b) => {
        done = true;
        return b;
      });
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false);
      await other.query('ROLLBACK');
      const b3 = await fresh2;
      expect(versions(b3?.events ?? [])).toEqual(['instrument-w@5', 'instrument-w@6']);
      await b3?.ack();
    } finally {
      await other.end();
      await store.close();
    }
  });

  it('keeps other relays backing off while a batch claimed ahead takes over', async () => {
    const store = await fresh();
    const { store: second } = await openEventStore({ kind: 'postgres', url: db.url });
    try {
      await filled(store, ['instrument-x'], 4);
      const b1 = await store.claimOutbox(2);
      const b2 = await b1?.claimNext?.(2);
      expect(await second.claimOutbox(10)).toBeNull();
      await b1?.ack();
      // The batch ahead takes the relay lock once b1 committed (queued on its connection by the ack).
      await new Promise((r) => setTimeout(r, 50));
      expect(await second.claimOutbox(10)).toBeNull();
      await b2?.ack();
      await filled(store, ['instrument-x'], 1);
      const b3 = await second.claimOutbox(10);
      expect(versions(b3?.events ?? [])).toEqual(['instrument-x@5']);
      await b3?.ack();
    } finally {
      await second.close();
      await store.close();
    }
  });
});
