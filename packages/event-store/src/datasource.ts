import 'reflect-metadata';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataSource, type MixedList } from 'typeorm';
import {
  EventStoreAppendFunctionPostgres1764400000050,
  EventStoreAppendPlpgsqlPostgres1764400000070,
  EventStoreInitPostgres1764400000000,
  EventStoreOutboxWithoutForeignKeyPostgres1764400000080,
} from './migrations/postgres';
import { EventStoreInitSqlite1764400000000 } from './migrations/sqlite';
import { PostgresEventStore } from './postgres';
import { SqliteEventStore } from './sqlite';
import type { EventStore } from './types';

export type StoreTarget = { readonly kind: 'postgres'; readonly url: string } | { readonly kind: 'sqlite'; readonly path: string };

// TypeORM's MixedList accepts class constructors; the repo's own migrations are all plain classes.
type MigrationClass = MixedList<string | (new () => unknown)>;

export interface DataSourceOptions {
  /** The whole migration list; defaults to the event store's own. */
  readonly migrations?: readonly (new () => unknown)[];
  readonly entities?: readonly (new () => unknown)[];
  readonly poolSize?: number;
}

export function eventStoreMigrations(kind: StoreTarget['kind']): (new () => unknown)[] {
  return kind === 'postgres'
    ? [
        EventStoreInitPostgres1764400000000,
        EventStoreAppendFunctionPostgres1764400000050,
        EventStoreAppendPlpgsqlPostgres1764400000070,
        EventStoreOutboxWithoutForeignKeyPostgres1764400000080,
      ]
    : [EventStoreInitSqlite1764400000000];
}

/** A TypeORM DataSource; schema comes from migrations only, never from `synchronize`. */
export function createDataSource(target: StoreTarget, opts: DataSourceOptions = {}): DataSource {
  const migrations = [...(opts.migrations ?? eventStoreMigrations(target.kind))] as MigrationClass;
  const entities = [...(opts.entities ?? [])] as MigrationClass;
  if (target.kind === 'postgres') {
    return new DataSource({
      type: 'postgres',
      url: target.url,
      migrations,
      entities,
      synchronize: false,
      migrationsTransactionMode: 'each',
      extra: { max: opts.poolSize ?? 10 },
    });
  }
  if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
  return new DataSource({
    type: 'better-sqlite3',
    database: target.path,
    migrations,
    entities,
    synchronize: false,
    // WAL lets readers run while the single writer commits.
    prepareDatabase: (db: { pragma: (s: string) => unknown }) => {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('foreign_keys = ON');
    },
  });
}

export async function openEventStore(target: StoreTarget, opts: DataSourceOptions = {}): Promise<{ store: EventStore; dataSource: DataSource }> {
  const ds = createDataSource(target, opts);
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  const store = target.kind === 'postgres' ? new PostgresEventStore(ds) : new SqliteEventStore(ds);
  return { store, dataSource: ds };
}
