import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredEvent } from '@regstream/domain';
import { eventStoreMigrations, type EventStore, openEventStore } from '@regstream/event-store';
import type { DataSource } from 'typeorm';
import { projectionMigrations } from '../migrations';
import { Projector, type ProjectorOptions } from '../projector';
import { Queries } from '../queries';
import type { TestBatch } from './stored';

export interface TestModels {
  readonly dataSource: DataSource;
  readonly store: EventStore;
  readonly projector: Projector;
  readonly queries: Queries;
  close(): Promise<void>;
}

/** A fresh SQLite database (temp file) with the event store and the read models migrated. */
export async function openSqliteModels(opts: ProjectorOptions & { clock?: () => Date } = {}): Promise<TestModels> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-proj-'));
  const { store, dataSource } = await openEventStore(
    { kind: 'sqlite', path: join(dir, 'test.db') },
    { migrations: [...eventStoreMigrations('sqlite'), ...projectionMigrations('sqlite')] },
  );
  return {
    dataSource,
    store,
    projector: new Projector(dataSource, opts),
    queries: new Queries(dataSource, opts.clock ? { clock: opts.clock } : {}),
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A fresh PostgreSQL database URL's models (the caller creates and drops the database). */
export async function openPostgresModels(url: string, opts: ProjectorOptions & { clock?: () => Date } = {}): Promise<TestModels> {
  const { store, dataSource } = await openEventStore({ kind: 'postgres', url }, { migrations: [...eventStoreMigrations('postgres'), ...projectionMigrations('postgres')] });
  return {
    dataSource,
    store,
    projector: new Projector(dataSource, opts),
    queries: new Queries(dataSource, opts.clock ? { clock: opts.clock } : {}),
    close: () => store.close(),
  };
}

export async function applyAll(projector: Projector, batches: readonly TestBatch[]): Promise<void> {
  for (const b of batches) await projector.applyBatch(b.partition, b.events, b.offsets);
}

/** Appends stored events to a store, stream by stream in log order, in chunks. */
export async function appendToStore(store: EventStore, events: readonly StoredEvent[], chunk = 1000): Promise<void> {
  for (let i = 0; i < events.length; i += chunk) {
    const slice = events.slice(i, i + chunk);
    const requests: { streamId: string; events: StoredEvent[] }[] = [];
    for (const e of slice) {
      const last = requests[requests.length - 1];
      if (last && last.streamId === e.subject) last.events.push(e);
      else requests.push({ streamId: e.subject, events: [e] });
    }
    await store.appendBatch(requests.map((r) => ({ streamId: r.streamId, events: r.events })));
  }
}
