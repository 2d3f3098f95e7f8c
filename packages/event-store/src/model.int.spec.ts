import fc from 'fast-check';
import type { AnyEnvelope } from '@regstream/domain';
import { createTestDatabase, type TestDatabase } from '@regstream/test-helpers';
import { openEventStore } from './datasource';
import { testEvent } from './testing';
import { ConcurrencyError, type Checkpoint, type EventStore, START } from './types';

/**
 * Model-based test (fast-check commands) against the real PostgreSQL driver: random interleavings of
 * appends, idempotent retries, reads from a checkpoint, and crash/restart of the store process.
 */
jest.setTimeout(240_000);

interface Model {
  streams: Map<string, string[]>;
  committed: string[];
  idempotent: Map<string, string[]>;
}
interface Real {
  db: TestDatabase;
  store: EventStore;
  reader: Checkpoint;
  readIds: string[];
}

const STREAMS = ['instrument-m-a', 'instrument-m-b', 'instrument-m-c'];

class AppendCmd implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly stream: string,
    readonly n: number,
    readonly pin: boolean,
    readonly key: string | null,
  ) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const expected = this.pin ? (m.streams.get(this.stream)?.length ?? 0) : undefined;
    if (this.key && m.idempotent.has(this.key)) {
      // A retry with the same key: original positions, nothing new.
      const before = await r.store.count();
      const res = await r.store.append(this.stream, [testEvent(this.stream)], undefined, { idempotencyKey: this.key, requestHash: this.key });
      expect(res.replayed).toBe(true);
      expect(res.events.map((e) => e.id)).toEqual(m.idempotent.get(this.key));
      expect(await r.store.count()).toBe(before);
      return;
    }
    const events: AnyEnvelope[] = Array.from({ length: this.n }, () => testEvent(this.stream));
    const res = await r.store.append(this.stream, events, expected, this.key ? { idempotencyKey: this.key, requestHash: this.key } : {});
    const ids = res.events.map((e) => e.id);
    m.streams.set(this.stream, [...(m.streams.get(this.stream) ?? []), ...ids]);
    m.committed.push(...ids);
    if (this.key) m.idempotent.set(this.key, ids);
  }
  toString = () => `append(${this.stream}, ${this.n}${this.pin ? ', pinned' : ''}${this.key ? `, key=${this.key}` : ''})`;
}

class StaleAppendCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly stream: string) {}
  check = (m: Readonly<Model>) => (m.streams.get(this.stream)?.length ?? 0) > 0;
  async run(m: Model, r: Real): Promise<void> {
    const stale = (m.streams.get(this.stream)?.length ?? 1) - 1;
    await expect(r.store.append(this.stream, [testEvent(this.stream)], stale)).rejects.toBeInstanceOf(ConcurrencyError);
  }
  toString = () => `staleAppend(${this.stream})`;
}

class ReadCmd implements fc.AsyncCommand<Model, Real> {
  constructor(readonly limit: number) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const page = await r.store.readAll(r.reader, this.limit);
    r.readIds.push(...page.events.map((e) => e.id));
    r.reader = page.checkpoint;
    // No reader ever skips: what it has read is exactly a prefix of the commit order.
    expect(r.readIds).toEqual(m.committed.slice(0, r.readIds.length));
  }
  toString = () => `read(${this.limit})`;
}

class CrashCmd implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_m: Model, r: Real): Promise<void> {
    // The process dies: connections close without ceremony; a new process opens the same database.
    await r.store.close();
    r.store = (await openEventStore({ kind: 'postgres', url: r.db.url })).store;
  }
  toString = () => 'crashAndRestart';
}

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('rs_model');
});
afterAll(async () => {
  await db.drop();
});

it('keeps versions gap-free, never lets a reader skip, and never duplicates on idempotent retries', async () => {
  const commands = [
    fc.tuple(fc.constantFrom(...STREAMS), fc.integer({ min: 1, max: 4 }), fc.boolean(), fc.option(fc.constantFrom('k1', 'k2', 'k3', 'k4'), { nil: null })).map(
      ([s, n, pin, key]) => new AppendCmd(s, n, pin, key),
    ),
    fc.constantFrom(...STREAMS).map((s) => new StaleAppendCmd(s)),
    fc.integer({ min: 1, max: 7 }).map((n) => new ReadCmd(n)),
    fc.constant(new CrashCmd()),
  ];
  let run = 0;
  await fc.assert(
    fc.asyncProperty(fc.commands(commands, { maxCommands: 25 }), async (cmds) => {
      run += 1;
      const { store, dataSource } = await openEventStore({ kind: 'postgres', url: db.url });
      await dataSource.query('TRUNCATE outbox, events, streams, idempotency_keys RESTART IDENTITY CASCADE');
      const real: Real = { db, store, reader: START, readIds: [] };
      const model: Model = { streams: new Map(), committed: [], idempotent: new Map() };
      try {
        await fc.asyncModelRun(() => ({ model, real }), cmds);
        for (const s of STREAMS) {
          const events = await real.store.readStream(s);
          expect(events.map((e) => e.streamversion)).toEqual(events.map((_, i) => i + 1));
          expect(events.map((e) => e.id)).toEqual(model.streams.get(s) ?? []);
        }
        const all = await real.store.readAll(START, 10_000);
        expect(all.events.map((e) => e.id)).toEqual(model.committed);
        expect(new Set(all.events.map((e) => e.id)).size).toBe(all.events.length);
      } finally {
        await real.store.close();
      }
    }),
    { numRuns: 30 },
  );
  expect(run).toBeGreaterThanOrEqual(30);
});
