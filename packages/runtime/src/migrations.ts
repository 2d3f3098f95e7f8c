import { eventStoreMigrations } from '@regstream/event-store';
import { ApiKeyMigrationPostgres1764400000100, ApiKeyMigrationSqlite1764400000100 } from '@regstream/http';
import { projectionMigrations } from '@regstream/projections';
import { alertsMigrations } from './migrations-alerts';

/**
 * The whole schema, in one ordered list, so every process (and the all-in-one server) migrates the
 * same way. Read models and alerts add their migrations here.
 */
export function allMigrations(kind: 'postgres' | 'sqlite'): (new () => unknown)[] {
  return [
    ...eventStoreMigrations(kind),
    kind === 'postgres' ? ApiKeyMigrationPostgres1764400000100 : ApiKeyMigrationSqlite1764400000100,
    ...projectionMigrations(kind),
    ...alertsMigrations(kind),
  ];
}
