import { FaultStack } from './harness';
import { adminKey, appendLoad, assertStoredOnce, recoveryMs, topicCounts, waitOutboxDrained } from './load';
import { checkReadModels, checksumLine, type ReadModelReport } from './read-models';

/**
 * Fault injection on the write side, against real processes and instances of the test's own.
 * After each fault: every acknowledged event is in the store exactly once and on the topic (at least
 * once, de-duplicated by id downstream), and the system recovers within the reported time. A projector
 * process consumes the topic throughout (it lives through the same fault); afterwards every stored event
 * is in its read models exactly once and their checksum equals that of a clean replay of the store into
 * a fresh database.
 */
jest.setTimeout(300_000);

const report: string[] = [];
afterAll(() => {
  console.log(`fault report\n${report.join('\n')}`);
});

function expectReplayEqual(rm: ReadModelReport): void {
  expect(rm.live.tables).toEqual(rm.replay.tables);
  expect(rm.live.digest).toBe(rm.replay.digest);
}

it('survives kill -9 of the Kafka broker and its restart', async () => {
  const stack = await FaultStack.create();
  try {
    const ingest = await stack.spawn('ingest');
    await stack.spawn('projector');
    const key = await adminKey(stack);
    let restartedAt = 0;
    const load = await appendLoad(ingest.port, key, {
      rounds: 120,
      tag: 'kafka',
      during: {
        30: () => stack.kafka.kill9(),
        70: async () => {
          await stack.kafka.start();
          restartedAt = Date.now();
        },
      },
    });
    await waitOutboxDrained(stack);
    const recovered = Date.now() - restartedAt;
    await assertStoredOnce(stack, load.acked);
    const topic = await topicCounts(stack, load.acked);
    expect(topic.missing).toBe(0);
    // Appends never depend on the broker: the outbox absorbs the outage.
    expect(load.failures).toBe(0);
    expect(load.acked.length).toBeGreaterThan(0);
    const rm = await checkReadModels(stack, load.acked);
    expectReplayEqual(rm);
    report.push(
      `kafka kill -9: ${load.acked.length} acknowledged, ${load.failures} refused, topic duplicates ${topic.duplicates}; outbox empty ${recovered} ms after the broker restarted; ` +
        `projector caught up ${rm.caughtUpMs} ms after that; ${checksumLine(rm)}`,
    );
  } catch (e) {
    console.log(`app logs\n${stack.logTails()}`);
    throw e;
  } finally {
    await stack.destroy();
  }
});

it('survives kill -9 of the outbox relay process', async () => {
  const stack = await FaultStack.create();
  try {
    const ingest = await stack.spawn('ingest', { REGSTREAM_RELAY: 'off' });
    let relay = await stack.spawn('relay');
    await stack.spawn('projector');
    const key = await adminKey(stack);
    let restartedAt = 0;
    const load = await appendLoad(ingest.port, key, {
      rounds: 120,
      tag: 'relay',
      during: {
        40: () => relay.kill9(),
        60: async () => {
          relay = await stack.spawn('relay');
          restartedAt = Date.now();
        },
      },
    });
    await waitOutboxDrained(stack);
    const recovered = Date.now() - restartedAt;
    await assertStoredOnce(stack, load.acked);
    const topic = await topicCounts(stack, load.acked);
    expect(topic.missing).toBe(0);
    expect(load.failures).toBe(0);
    const rm = await checkReadModels(stack, load.acked);
    expectReplayEqual(rm);
    report.push(
      `relay kill -9: ${load.acked.length} acknowledged, none refused, topic duplicates ${topic.duplicates} (at least once); outbox empty ${recovered} ms after the relay restarted; ` +
        `projector caught up ${rm.caughtUpMs} ms after that; ${checksumLine(rm)}`,
    );
  } catch (e) {
    console.log(`app logs\n${stack.logTails()}`);
    throw e;
  } finally {
    await stack.destroy();
  }
});

it('survives PostgreSQL stopped with pg_ctl stop -m immediate, then restarted', async () => {
  const stack = await FaultStack.create();
  try {
    const ingest = await stack.spawn('ingest');
    await stack.spawn('projector');
    const key = await adminKey(stack);
    let restartedAt = 0;
    const load = await appendLoad(ingest.port, key, {
      rounds: 120,
      tag: 'pg',
      during: {
        40: () => stack.pg.stopImmediate(),
        50: async () => {
          await new Promise((r) => setTimeout(r, 1000));
          await stack.pg.start();
          restartedAt = Date.now();
        },
      },
    });
    await waitOutboxDrained(stack);
    await assertStoredOnce(stack, load.acked);
    const topic = await topicCounts(stack, load.acked);
    expect(topic.missing).toBe(0);
    const recovery = recoveryMs(load, restartedAt);
    expect(recovery).toBeLessThan(30_000);
    const rm = await checkReadModels(stack, load.acked);
    expectReplayEqual(rm);
    report.push(
      `postgres immediate stop: ${load.acked.length} acknowledged, ${load.failures} refused while down; writes back ${recovery} ms after restart; ` +
        `projector caught up ${rm.caughtUpMs} ms after the outbox drained; ${checksumLine(rm)}`,
    );
  } catch (e) {
    console.log(`app logs\n${stack.logTails()}`);
    throw e;
  } finally {
    await stack.destroy();
  }
});

it('survives latency and dropped connections between ingest and PostgreSQL', async () => {
  const stack = await FaultStack.create({ proxyPostgres: true });
  try {
    const ingest = await stack.spawn('ingest');
    // The projector shares ingest's faulty link to PostgreSQL.
    await stack.spawn('projector');
    const key = await adminKey(stack);
    const proxy = stack.pgProxy;
    if (!proxy) throw new Error('no proxy');
    let healedAt = 0;
    const load = await appendLoad(ingest.port, key, {
      rounds: 120,
      tag: 'net',
      during: {
        20: () => {
          proxy.latencyMs = 80;
        },
        50: () => proxy.drop(),
        70: () => proxy.drop(true),
        80: () => {
          proxy.heal();
          healedAt = Date.now();
        },
      },
    });
    await waitOutboxDrained(stack);
    await assertStoredOnce(stack, load.acked);
    const topic = await topicCounts(stack, load.acked);
    expect(topic.missing).toBe(0);
    const recovery = recoveryMs(load, healedAt);
    expect(recovery).toBeLessThan(30_000);
    const rm = await checkReadModels(stack, load.acked);
    expectReplayEqual(rm);
    report.push(
      `network faults (80 ms latency, drops, refusals): ${load.acked.length} acknowledged, ${load.failures} refused; writes back ${recovery} ms after the network healed; ` +
        `projector caught up ${rm.caughtUpMs} ms after the outbox drained; ${checksumLine(rm)}`,
    );
  } catch (e) {
    console.log(`app logs\n${stack.logTails()}`);
    throw e;
  } finally {
    await stack.destroy();
  }
});
