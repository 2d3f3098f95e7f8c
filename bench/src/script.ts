import { createDataSource } from '@regstream/event-store';
import { projectionMigrations } from '@regstream/projections';
import { allMigrations } from '@regstream/runtime';
import type { DataSource } from 'typeorm';

/** The database of `DATABASE_URL`, with every migration run (the by-hand scripts' setup). */
export async function openMigrated(): Promise<DataSource> {
  const url = process.env['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is required');
  const migrations = [...new Set([...allMigrations('postgres'), ...projectionMigrations('postgres')])];
  const ds = createDataSource({ kind: 'postgres', url }, { migrations, poolSize: 4 });
  await ds.initialize();
  await ds.runMigrations({ transaction: 'each' });
  return ds;
}

/** Runs a script's main and exits with its outcome (V8 writes a --cpu-prof profile on process.exit). */
export function runScript(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(1);
    },
  );
}
