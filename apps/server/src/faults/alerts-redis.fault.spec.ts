import type { OwnRedis } from '@regstream/test-helpers';
import { waitFor } from '@regstream/test-helpers';
import { FaultStack, postJson } from './harness';
import { adminKey, appendLoad } from './load';
import { WebhookReceiver } from './receiver';

/**
 * Redis restarted while alert deliveries are in flight, against real processes (ingest, alerts with its
 * BullMQ worker) and a Redis of the test's own. Three restarts: a crash that loses every key, a clean
 * restart that keeps them (SHUTDOWN SAVE), and a crash that comes back from that, by then stale,
 * snapshot. The receiver counts accepted deliveries per delivery id and per event id: every matched
 * event arrives, and exactly once.
 */
jest.setTimeout(300_000);

const report: string[] = [];
afterAll(() => {
  console.log(`fault report\n${report.join('\n')}`);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Phase {
  readonly name: string;
  readonly fault: (redis: OwnRedis) => Promise<void>;
}

const PHASES: readonly Phase[] = [
  {
    name: 'kill -9, back empty',
    fault: async (redis) => {
      redis.kill9();
      await sleep(2000);
      if (redis.hasSnapshot) throw new Error('expected no snapshot: the restart must come back empty');
      await redis.start();
    },
  },
  {
    name: 'clean restart (SHUTDOWN SAVE), keys kept',
    fault: async (redis) => {
      await redis.shutdown(true);
      if (!redis.hasSnapshot) throw new Error('SHUTDOWN SAVE left no snapshot');
      await sleep(2000);
      await redis.start();
    },
  },
  {
    name: 'kill -9, back from the stale snapshot of the clean restart',
    fault: async (redis) => {
      redis.kill9();
      await sleep(2000);
      if (!redis.hasSnapshot) throw new Error('expected the snapshot of the clean restart');
      await redis.start();
    },
  },
];

it('loses no alert and sends none twice when Redis is restarted during deliveries', async () => {
  const stack = await FaultStack.create();
  const receiver = await WebhookReceiver.start();
  try {
    const ingest = await stack.spawn('ingest');
    // Reconciling every second (the default is a minute): the delivery log refills a queue that lost its jobs.
    const alerts = await stack.spawn('alerts', {
      REGSTREAM_WEBHOOK_ALLOWLIST: '127.0.0.1',
      REGSTREAM_ALERTS_RECONCILE_MS: '1000',
      REGSTREAM_ALERTS_BACKOFF_BASE_MS: '1000',
    });
    const key = await adminKey(stack);
    const sub = await postJson(
      alerts.port,
      '/v1/subscriptions',
      {
        name: 'redis fault',
        filters: { jurisdictions: ['EU'] },
        rule: { kind: 'event' },
        channel: { kind: 'webhook', url: `${receiver.url}/hook` },
      },
      key,
    );
    expect(sub.status).toBe(201);
    // A slow receiver that refuses every other delivery's first attempt: at each restart some deliveries
    // are being sent, some wait in the queue and some wait for their retry in BullMQ's delayed set.
    receiver.delayMs = 150;
    let firstAttempts = 0;
    let refused = 0;
    receiver.respond = (_id, n) => {
      if (n !== 1) return 204;
      firstAttempts += 1;
      if (firstAttempts % 2 === 0) return 204;
      refused += 1;
      return 503;
    };
    const allAcked: string[] = [];
    for (const [i, phase] of PHASES.entries()) {
      const load = await appendLoad(ingest.port, key, { rounds: 20, tag: `redis-${i}` });
      expect(load.failures).toBe(0);
      const acked = new Set(load.acked);
      allAcked.push(...load.acked);
      const ofPhase = () => receiver.receipts.filter((r) => acked.has(r.eventId));
      await waitFor(() => (ofPhase().length >= acked.size / 4 ? true : undefined), 60_000, 10);
      const states = await stack.query<{ status: string; n: string }>(
        `SELECT status, count(*)::text AS n FROM alert_deliveries WHERE event_id = ANY($1) GROUP BY status ORDER BY status`,
        [load.acked],
      );
      const downAt = Date.now();
      await phase.fault(stack.redis);
      const upAt = Date.now();
      await waitFor(
        () =>
          load.acked.every((id) => ofPhase().some((r) => r.eventId === id && r.status < 300))
            ? true
            : undefined,
        120_000,
        50,
      );
      const firstAccepted = new Map<string, number>();
      for (const r of ofPhase()) {
        if (r.status < 300 && !firstAccepted.has(r.eventId)) firstAccepted.set(r.eventId, r.at);
      }
      const after = [...firstAccepted.values()].filter((t) => t >= upAt);
      const lastMs = Math.max(...after) - upAt;
      const firstMs = Math.min(...after) - upAt;
      report.push(
        `redis ${phase.name}: ${acked.size} matching events; at the fault ${[...states.map((s) => `${s.n} ${s.status}`), `${acked.size - states.reduce((n, s) => n + Number(s.n), 0)} not matched yet`].join(', ')}; ` +
          `down ${upAt - downAt} ms; ${after.length} delivered after the restart, the first ${firstMs} ms and the last ${lastMs} ms after Redis was back`,
      );
      expect(after.length).toBeGreaterThan(0);
    }
    // Three reconcile rounds more, then count: a late duplicate would show here.
    await sleep(3500);
    const byEvent = receiver.accepted('eventId');
    const byDelivery = receiver.accepted('deliveryId');
    const lost = allAcked.filter((id) => !byEvent.has(id));
    const twice =
      [...byEvent.values()].filter((n) => n > 1).length +
      [...byDelivery.values()].filter((n) => n > 1).length;
    expect(lost).toEqual([]);
    expect(twice).toBe(0);
    expect(byEvent.size).toBe(allAcked.length);
    expect(byDelivery.size).toBe(allAcked.length);
    const rows = await stack.query<{ status: string; n: string }>(
      `SELECT status, count(*)::text AS n FROM alert_deliveries GROUP BY status`,
    );
    expect(rows).toEqual([{ status: 'delivered', n: String(allAcked.length) }]);
    report.push(
      `redis restarts: ${allAcked.length} alerts, ${allAcked.length} delivered, 0 lost, 0 sent twice (by delivery id and by event id); ` +
        `${receiver.receipts.length} requests in all (${refused} first attempts refused on purpose with 503 and retried)`,
    );
  } catch (e) {
    console.log(`app logs\n${stack.logTails()}`);
    throw e;
  } finally {
    await receiver.close();
    await stack.destroy();
  }
});
