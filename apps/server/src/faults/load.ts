import { createDataSource } from '@regstream/event-store';
import { ApiKeyService } from '@regstream/http';
import { fromKafkaMessage, kafkaClient } from '@regstream/messaging';
import { waitFor } from '@regstream/test-helpers';
import { logLevel } from 'kafkajs';
import type { FaultStack } from './harness';
import { postJson } from './harness';

export async function adminKey(stack: FaultStack): Promise<string> {
  const ds = createDataSource({ kind: 'postgres', url: stack.directDatabaseUrl }, { migrations: [] });
  await ds.initialize();
  try {
    return (await new ApiKeyService(ds).issue('fault-test', ['admin'])).secret;
  } finally {
    await ds.destroy();
  }
}

const registered = (id: string) => ({
  type: 'InstrumentRegistered',
  subject: `instrument-${id}`,
  validtime: '2024-01-01',
  knowntime: '2024-01-01',
  data: { instrumentId: id, jurisdiction: 'EU', kind: 'regulation', legalForce: 'binding', issuingBody: 'Fault test', titles: { en: `Instrument ${id}` } },
});

export interface LoadResult {
  /** Event ids the API acknowledged with 201. */
  readonly acked: string[];
  readonly failures: number;
  /** When each acknowledged request was answered (ms since epoch). */
  readonly ackTimes: number[];
}

/** Time from `since` to the first acknowledgement after it: how long writes were unavailable. */
export function recoveryMs(load: LoadResult, since: number): number {
  const first = load.ackTimes.filter((t) => t >= since).sort((a, b) => a - b)[0];
  return first === undefined ? Number.NaN : first - since;
}

/**
 * A bounded stream of appends (batches of 3 instruments) from `clients` concurrent writers; `during` runs
 * the fault at a given round. Only 201 answers count as acknowledged.
 */
export async function appendLoad(
  port: number,
  key: string,
  opts: { rounds: number; clients?: number; tag: string; during?: Record<number, () => Promise<void> | void> },
): Promise<LoadResult> {
  const acked: string[] = [];
  const ackTimes: number[] = [];
  let failures = 0;
  let round = 0;
  const faults = opts.during ?? {};
  await Promise.all(
    Array.from({ length: opts.clients ?? 4 }, async (_, c) => {
      while (round < opts.rounds) {
        const r = round++;
        const fault = faults[r];
        if (fault) await fault();
        const body = { events: [0, 1, 2].map((i) => registered(`${opts.tag}-${r}-${c}-${i}`)) };
        const res = await postJson(port, '/v1/events', body, key);
        if (res.status === 201) {
          acked.push(...(JSON.parse(res.body) as { events: { id: string }[] }).events.map((e) => e.id));
          ackTimes.push(Date.now());
        }
        else {
          failures += 1;
          await new Promise((res2) => setTimeout(res2, 100));
        }
      }
    }),
  );
  return { acked, failures, ackTimes };
}

/** Every acknowledged id is in the store exactly once. */
export async function assertStoredOnce(stack: FaultStack, acked: readonly string[]): Promise<void> {
  const rows = await stack.query<{ event_id: string; n: string }>(`SELECT event_id, count(*)::text AS n FROM events WHERE event_id = ANY($1) GROUP BY event_id`, [acked]);
  const counts = new Map(rows.map((r) => [r.event_id, Number(r.n)]));
  const missing = acked.filter((id) => !counts.has(id));
  const doubled = [...counts].filter(([, n]) => n !== 1);
  if (missing.length || doubled.length) throw new Error(`store: ${missing.length} missing, ${doubled.length} doubled`);
}

export async function waitOutboxDrained(stack: FaultStack, timeoutMs = 120_000): Promise<number> {
  const start = Date.now();
  await waitFor(async () => {
    const [row] = await stack.query<{ n: string }>('SELECT count(*)::text AS n FROM outbox');
    return row && Number(row.n) === 0 ? true : undefined;
  }, timeoutMs, 100);
  return Date.now() - start;
}

/** Reads the whole topic and returns how often each acknowledged id appears (at least once; duplicates allowed). */
export async function topicCounts(stack: FaultStack, acked: readonly string[]): Promise<{ missing: number; duplicates: number }> {
  const client = kafkaClient({ brokers: stack.kafka.brokers, clientId: 'fault-verify', topic: 'x' }, { logLevel: logLevel.NOTHING });
  const consumer = client.consumer({ groupId: `verify-${Date.now()}` });
  const seen = new Map<string, number>();
  await consumer.connect();
  await consumer.subscribe({ topic: 'regstream.regulatory-events.v1', fromBeginning: true });
  await consumer.run({
    eachMessage: ({ message }) => {
      const id = fromKafkaMessage(message).id;
      seen.set(id, (seen.get(id) ?? 0) + 1);
      return Promise.resolve();
    },
  });
  try {
    await waitFor(() => (acked.every((id) => seen.has(id)) ? true : undefined), 60_000, 200);
  } catch {
    // fall through: report what is missing
  } finally {
    await consumer.disconnect();
  }
  return { missing: acked.filter((id) => !seen.has(id)).length, duplicates: [...seen.values()].filter((n) => n > 1).length };
}
