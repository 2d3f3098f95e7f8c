import { waitFor } from '@regstream/test-helpers';
import { Client } from 'pg';
import { type AppProcess, FaultStack } from './harness';
import { adminKey, appendLoad, assertStoredOnce, topicCounts, waitOutboxDrained } from './load';
import { checkReadModels, checksumLine, projectedCount, waitProjected } from './read-models';

/**
 * Fault injection on the read side: kill -9 of a projector process in the middle of a batch while a
 * bounded stream of appends runs, then a restart. Afterwards every acknowledged event is in the store
 * and on the topic, and in the read models exactly once; the read models' checksum equals that of a
 * clean replay of the store into a fresh database.
 */
jest.setTimeout(300_000);

const report: string[] = [];
afterAll(() => {
  console.log(`fault report\n${report.join('\n')}`);
});

/** PostgreSQL logs this when a client vanishes while its transaction is open (and rolls it back). */
const OPEN_TX_EOF = /unexpected EOF on client connection with an open transaction/g;
const APP_NAME = 'rs-fault-projector';

/**
 * Waits until the projector is inside a batch transaction (its connection idle in transaction: the batch
 * has begun and not committed) and kills it there. The proof that the kill landed mid-batch is
 * PostgreSQL's own log line for the vanished client. Returns how long the transaction had been open.
 */
async function killMidBatch(
  stack: FaultStack,
  projector: AppProcess,
): Promise<{ openMs: number; proven: boolean }> {
  const eofBefore = (stack.pg.log().match(OPEN_TX_EOF) ?? []).length;
  const c = new Client({ connectionString: stack.directDatabaseUrl });
  await c.connect();
  let openMs = 0;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { rows } = await c.query<{ open_ms: number }>(
        `SELECT (extract(epoch FROM clock_timestamp() - xact_start) * 1000)::int AS open_ms FROM pg_stat_activity
         WHERE application_name = $1 AND state = 'idle in transaction' AND xact_start IS NOT NULL`,
        [APP_NAME],
      );
      if (rows[0]) {
        projector.kill9();
        openMs = rows[0].open_ms;
        break;
      }
      if (Date.now() > deadline) throw new Error('never saw the projector inside a batch transaction');
    }
  } finally {
    await c.end();
  }
  const proven = await waitFor(
    () => ((stack.pg.log().match(OPEN_TX_EOF) ?? []).length > eofBefore ? true : undefined),
    5000,
    50,
  ).catch(() => false);
  return { openMs, proven };
}

it('survives kill -9 of a projector process mid-batch, and its restart', async () => {
  const stack = await FaultStack.create();
  try {
    const ingest = await stack.spawn('ingest');
    // The projector reaches PostgreSQL over a link of its own with 5 ms latency each way (another host),
    // so a batch's transaction stays open for several round trips: long enough to be killed inside.
    const link = await stack.postgresLink();
    link.proxy.latencyMs = 5;
    const env = { DATABASE_URL: link.databaseUrl, PGAPPNAME: APP_NAME };
    let projector = await stack.spawn('projector', env);
    const key = await adminKey(stack);
    const kills: { openMs: number; proven: boolean }[] = [];
    let restartedAt = 0;
    let resumed: Promise<number> = Promise.resolve(Number.NaN);
    const load = await appendLoad(ingest.port, key, {
      rounds: 150,
      tag: 'projector',
      during: {
        50: async () => {
          // Up to 3 tries: a kill that lands just after a commit is not mid-batch; restart and try again.
          for (let i = 0; i < 3; i++) {
            const k = await killMidBatch(stack, projector);
            kills.push(k);
            if (k.proven) break;
            projector = await stack.spawn('projector', env);
          }
          // The other writers go on appending while the projector is down.
          await new Promise((r) => setTimeout(r, 2000));
          const before = (await projectedCount(stack)).projected;
          restartedAt = Date.now();
          // In the background: when the restarted projector applies its first batch. A dead member keeps its
          // partitions until its consumer-group session times out, so this includes that wait.
          resumed = waitFor(
            async () =>
              (await projectedCount(stack)).projected > before ? Date.now() - restartedAt : undefined,
            120_000,
            50,
          ).catch(() => Number.NaN);
          projector = await stack.spawn('projector', env);
        },
      },
    });
    const loadEnded = Date.now();
    expect(kills.some((k) => k.proven)).toBe(true);
    expect(restartedAt).toBeGreaterThan(0);
    const resumedMs = await resumed;
    expect(resumedMs).toBeLessThan(60_000);
    await waitProjected(stack);
    const complete = Date.now() - loadEnded;
    await waitOutboxDrained(stack);
    await assertStoredOnce(stack, load.acked);
    const topic = await topicCounts(stack, load.acked);
    expect(topic.missing).toBe(0);
    // The projector is not on the write path: no append was refused.
    expect(load.failures).toBe(0);
    const rm = await checkReadModels(stack, load.acked);
    expect(rm.live.tables).toEqual(rm.replay.tables);
    expect(rm.live.digest).toBe(rm.replay.digest);
    report.push(
      `projector kill -9 mid-batch (its transaction open ${kills.map((k) => `${k.openMs} ms${k.proven ? '' : ' (landed after the commit)'}`).join(', then ')}, rolled back per the PostgreSQL log): ` +
        `${load.acked.length} acknowledged, 0 missing from store, topic and read models, 0 applied twice; ` +
        `the restarted projector applied its first batch ${resumedMs} ms after it was started again (process start, and the dead member's consumer-group session running out, included), ` +
        `read models complete ${complete} ms after the last append; ${checksumLine(rm)}`,
    );
  } catch (e) {
    console.log(`app logs\n${stack.logTails()}`);
    throw e;
  } finally {
    await stack.destroy();
  }
});
