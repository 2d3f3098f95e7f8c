import type { StoredEvent } from '@regstream/domain';
import { createTestDatabase, type TestDatabase, waitFor } from '@regstream/test-helpers';
import { Client } from 'pg';
import { OUTBOX_CHANNEL, OutboxListener } from './outbox-listener';
import { type OutboxSource, OutboxRelay } from './relay';
import { busEvent } from './testing';
import type { Publisher } from './types';

/**
 * The relay's LISTEN on a real PostgreSQL. The notifications are sent by hand here (NOTIFY, as the
 * event store does after an append); the relay polls so rarely that only a wake-up can explain a prompt
 * delivery.
 */
let db: TestDatabase;
let sql: Client;

beforeAll(async () => {
  db = await createTestDatabase('rs_listen');
  sql = new Client({ connectionString: db.url });
  await sql.connect();
});
afterAll(async () => {
  await sql.end();
  await db.drop();
});

const notify = () => sql.query(`NOTIFY ${OUTBOX_CHANNEL}`);
const listenerPids = async () =>
  (await sql.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'`)).rows.map((r) => r.pid);

class Outbox implements OutboxSource {
  rows: StoredEvent[] = [];
  claimOutbox(limit: number) {
    const batch = this.rows.splice(0, limit);
    if (batch.length === 0) return Promise.resolve(null);
    return Promise.resolve({ events: batch, ack: () => Promise.resolve(), release: () => Promise.resolve() });
  }
}

class Sink implements Publisher {
  readonly at = new Map<string, number>();
  publish(events: readonly StoredEvent[]): Promise<void> {
    for (const e of events) this.at.set(e.id, Date.now());
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('OutboxListener', () => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const s of stops.splice(0).reverse()) await s();
  });

  async function setup() {
    const outbox = new Outbox();
    const sink = new Sink();
    // A poll of a minute: anything delivered sooner was woken.
    const relay = new OutboxRelay(outbox, sink, { idleMs: 60_000, notifiedIdleMs: 60_000 });
    const errors: unknown[] = [];
    const listener = new OutboxListener({ connectionString: db.url, retryMs: 50, onError: (e) => errors.push(e) }, () => relay.wake());
    relay.start();
    await listener.start();
    stops.push(() => relay.stop(), () => listener.stop());
    return { outbox, sink, relay, listener, errors };
  }

  it('wakes the relay on every notification, so a relay polling once a minute delivers within milliseconds', async () => {
    const { outbox, sink, listener } = await setup();
    expect(listener.listening).toBe(true);
    for (let i = 1; i <= 5; i++) {
      const e = busEvent('instrument-listen', i);
      outbox.rows.push(e);
      const sent = Date.now();
      await notify();
      await waitFor(() => (sink.at.has(e.id) ? true : undefined), 2000, 5);
      expect((sink.at.get(e.id) ?? Infinity) - sent).toBeLessThan(250);
    }
    expect(listener.stats.notifications).toBeGreaterThanOrEqual(5);
  });

  it('reconnects after its connection is killed, relays what came meanwhile, and listens again', async () => {
    const { outbox, sink, listener, errors } = await setup();
    const [pid] = await listenerPids();
    expect(pid).toBeDefined();
    // Committed while nobody listens: its notification is lost, the reconnection's wake-up covers it.
    const missed = busEvent('instrument-reconnect', 1);
    await sql.query(`SELECT pg_terminate_backend($1)`, [pid]);
    outbox.rows.push(missed);
    await waitFor(() => (listener.stats.connects >= 2 ? true : undefined), 10_000, 20);
    await waitFor(() => (sink.at.has(missed.id) ? true : undefined), 2000, 5);
    expect(errors.length).toBeGreaterThanOrEqual(1);
    const after = busEvent('instrument-reconnect', 2);
    outbox.rows.push(after);
    const sent = Date.now();
    await notify();
    await waitFor(() => (sink.at.has(after.id) ? true : undefined), 2000, 5);
    expect((sink.at.get(after.id) ?? Infinity) - sent).toBeLessThan(250);
    expect((await listenerPids()).length).toBe(1);
  });

  it('stops cleanly: no connection left, no reconnection', async () => {
    const { listener } = await setup();
    await listener.stop();
    await new Promise((r) => setTimeout(r, 200));
    expect(await listenerPids()).toEqual([]);
    expect(listener.listening).toBe(false);
  });
});
