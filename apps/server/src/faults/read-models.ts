import { createDataSource, PostgresEventStore } from '@regstream/event-store';
import { type ModelChecksum, Projector, projectionMigrations, tablesOf } from '@regstream/projections';
import { waitFor } from '@regstream/test-helpers';
import { Client } from 'pg';
import type { FaultStack } from './harness';

/**
 * The read-side checks after a fault: the projector process has applied every stored event, each
 * acknowledged one exactly once, nothing went to the dead-letter table, and the live read models have
 * the checksum (`regstream checksum`, Projector.checksum) of a clean replay of the same store into a
 * fresh database.
 */

export interface ReadModelReport {
  /** Events in the store, all of them in the live read models. */
  readonly events: number;
  /** From the call until the read models held every stored event. */
  readonly caughtUpMs: number;
  readonly live: ModelChecksum;
  readonly replay: ModelChecksum;
  /** How long the clean replay took. */
  readonly replayMs: number;
}

async function activeModel(stack: FaultStack): Promise<string> {
  const [row] = await stack.query<{ active_model: string }>(
    `SELECT active_model FROM rm_state WHERE projector = 'projector'`,
  );
  return row?.active_model ?? 'v1';
}

/** How many stored events the live read models hold (a fact row per applied event). */
export async function projectedCount(stack: FaultStack): Promise<{ stored: number; projected: number }> {
  const facts = tablesOf(await activeModel(stack)).facts;
  const [row] = await stack.query<{ stored: string; projected: string }>(
    `SELECT (SELECT count(*) FROM events)::text AS stored,
            (SELECT count(*) FROM ${facts} f WHERE EXISTS (SELECT 1 FROM events e WHERE e.event_id = f.event_id))::text AS projected`,
  );
  return { stored: Number(row?.stored ?? 0), projected: Number(row?.projected ?? 0) };
}

/** Waits until the projector has applied every event in the store; returns how long that took. */
export async function waitProjected(
  stack: FaultStack,
  timeoutMs = 120_000,
): Promise<{ ms: number; events: number }> {
  const started = Date.now();
  let last = { stored: 0, projected: 0 };
  try {
    await waitFor(
      async () => {
        last = await projectedCount(stack);
        return last.stored > 0 && last.projected === last.stored ? true : undefined;
      },
      timeoutMs,
      100,
    );
  } catch (e) {
    throw new Error(
      `read models did not catch up: ${last.projected} of ${last.stored} stored events applied (${e instanceof Error ? e.message : String(e)})`,
    );
  }
  return { ms: Date.now() - started, events: last.stored };
}

/**
 * Every acknowledged event is in the live read models exactly once: one fact row (the processed-event
 * set) and one instrument version (each load event registers its own instrument); no dead letters.
 */
export async function assertProjectedOnce(stack: FaultStack, acked: readonly string[]): Promise<void> {
  const t = tablesOf(await activeModel(stack));
  for (const table of [t.facts, t.instruments]) {
    const rows = await stack.query<{ event_id: string; n: string }>(
      `SELECT event_id, count(*)::text AS n FROM ${table} WHERE event_id = ANY($1) GROUP BY event_id`,
      [acked],
    );
    const counts = new Map(rows.map((r) => [r.event_id, Number(r.n)]));
    const missing = acked.filter((id) => !counts.has(id));
    const doubled = [...counts].filter(([, n]) => n !== 1);
    if (missing.length || doubled.length) {
      throw new Error(
        `${table}: ${missing.length} acknowledged events missing, ${doubled.length} applied more than once`,
      );
    }
  }
  const [dl] = await stack.query<{ n: string }>(`SELECT count(*)::text AS n FROM rm_dead_letters`);
  if (Number(dl?.n ?? 0) !== 0) throw new Error(`${dl?.n} events went to the dead-letter table`);
}

/** The live read models' checksum, as `regstream checksum` prints it. */
export async function liveChecksum(stack: FaultStack): Promise<ModelChecksum> {
  const ds = createDataSource({ kind: 'postgres', url: stack.directDatabaseUrl }, { migrations: [] });
  await ds.initialize();
  try {
    return await new Projector(ds).checksum();
  } finally {
    await ds.destroy();
  }
}

let replays = 0;

/**
 * A clean replay: the read-model schema migrated into a fresh database of the stack's own cluster, rebuilt
 * there from the same event store (the fault database), and its checksum.
 */
export async function replayChecksum(
  stack: FaultStack,
): Promise<{ checksum: ModelChecksum; events: number; ms: number }> {
  replays += 1;
  const name = `replay_${process.pid}_${replays}`;
  const admin = new Client({ connectionString: stack.pg.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const storeDs = createDataSource({ kind: 'postgres', url: stack.directDatabaseUrl }, { migrations: [] });
  const replayDs = createDataSource(
    { kind: 'postgres', url: `postgres://postgres@127.0.0.1:${stack.pg.port}/${name}` },
    { migrations: projectionMigrations('postgres') },
  );
  await storeDs.initialize();
  try {
    await replayDs.initialize();
    await replayDs.runMigrations({ transaction: 'each' });
    const started = Date.now();
    const projector = new Projector(replayDs);
    const rebuilt = await projector.rebuild(new PostgresEventStore(storeDs));
    if (rebuilt.deadLettered !== 0) {
      throw new Error(`the clean replay dead-lettered ${rebuilt.deadLettered} events`);
    }
    const checksum = await projector.checksum();
    return { checksum, events: rebuilt.events, ms: Date.now() - started };
  } finally {
    if (replayDs.isInitialized) await replayDs.destroy();
    await storeDs.destroy();
  }
}

/** Catch-up, exactly once, no dead letters, and live checksum = clean replay checksum (asserted by the caller). */
export async function checkReadModels(stack: FaultStack, acked: readonly string[]): Promise<ReadModelReport> {
  const caught = await waitProjected(stack);
  await assertProjectedOnce(stack, acked);
  const live = await liveChecksum(stack);
  const replay = await replayChecksum(stack);
  if (replay.events !== caught.events) {
    throw new Error(`the replay read ${replay.events} events, the store holds ${caught.events}`);
  }
  return { events: caught.events, caughtUpMs: caught.ms, live, replay: replay.checksum, replayMs: replay.ms };
}

/** "checksum 1a2b3c4d… = clean replay" for the report. */
export function checksumLine(r: ReadModelReport): string {
  const rows = Object.values(r.live.tables).reduce((n, t) => n + t.rows, 0);
  return `read models: ${r.events} events, ${rows} rows in ${Object.keys(r.live.tables).length} tables, checksum ${r.live.digest.slice(0, 12)} ${r.live.digest === r.replay.digest ? '=' : '≠'} clean replay ${r.replay.digest.slice(0, 12)} (replayed in ${r.replayMs} ms)`;
}
