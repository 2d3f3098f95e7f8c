import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEventStore } from './datasource';
import { eventStoreContract } from './testing';

const dir = mkdtempSync(join(tmpdir(), 'rs-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
eventStoreContract('sqlite (better-sqlite3 through TypeORM)', async () => {
  n += 1;
  return (await openEventStore({ kind: 'sqlite', path: join(dir, `store-${n}.db`) })).store;
});
