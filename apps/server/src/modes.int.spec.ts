import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@regstream/config';
import { ProjectorService } from '@regstream/projector';
import { createTestDatabase, type TestDatabase, uniqueName, waitFor } from '@regstream/test-helpers';
import { startServer, type Started } from './bootstrap';

/**
 * The README's run command in both modes, on the same corpus: SQLite + in-process bus + inline queue,
 * and PostgreSQL + Kafka + Redis. The read models must be identical (same checksum).
 */
jest.setTimeout(240_000);

const dirs: string[] = [];
const started: Started[] = [];
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase('rs_modes');
});
afterAll(async () => {
  for (const s of started) {
    await s.app.close();
    await s.infra.close();
  }
  await db?.drop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(env: Record<string, string>): Promise<{ digest: string; tables: Readonly<Record<string, { rows: number; digest: string }>> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-modes-'));
  dirs.push(dir);
  const s = await startServer(loadConfig({ REGSTREAM_DATA_DIR: dir, ...env }), { port: 0 });
  started.push(s);
  const total = await s.infra.store.count();
  expect(total).toBe(s.corpus.events);
  const projector = s.app.get(ProjectorService).projector;
  // Caught up when the model has applied the last position of the log.
  const [last] = (await s.infra.store.readAll({ tx: '0', pos: '0' }, total)).events.slice(-1);
  await waitFor(async () => ((await projector.freshness()).position === last?.position ? true : undefined), 180_000, 200);
  const sum = await projector.checksum();
  return { digest: sum.digest, tables: sum.tables };
}

it('builds identical read models from the corpus in the embedded and the distributed mode', async () => {
  const embedded = await run({});
  const distributed = await run({
    DATABASE_URL: db.url,
    KAFKA_BROKERS: process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092',
    REDIS_URL: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    KAFKA_TOPIC_EVENTS: uniqueName('rs-modes'),
  });
  expect(Object.values(embedded.tables).reduce((n, t) => n + t.rows, 0)).toBeGreaterThan(500);
  expect(distributed.tables).toEqual(embedded.tables);
  expect(distributed.digest).toBe(embedded.digest);
  console.log(`modes checksum: ${embedded.digest} over ${Object.keys(embedded.tables).length} tables`);
});
