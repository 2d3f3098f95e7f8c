import { ConfigError, loadConfig } from '@regstream/config';
import type { StoredEvent } from '@regstream/domain';
import { type Checkpoint, type EventStore, START } from '@regstream/event-store';
import { createInfrastructure, type Infrastructure } from '@regstream/runtime';
import { CliError, type Io } from './io';

/** Opens the configured store (embedded SQLite in REGSTREAM_DATA_DIR by default), runs `fn`, closes it. */
export async function withInfra<T>(io: Io, fn: (infra: Infrastructure) => Promise<T>): Promise<T> {
  let infra: Infrastructure;
  try {
    infra = await createInfrastructure(loadConfig({ ...io.env }));
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message);
    throw new CliError(`cannot open the event store: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    return await fn(infra);
  } finally {
    await infra.close();
  }
}

/** The whole log in commit order, page by page. */
export async function readLog(store: EventStore, onPage?: (read: number, total: number) => void): Promise<StoredEvent[]> {
  const total = await store.count();
  const out: StoredEvent[] = [];
  let cp: Checkpoint = START;
  for (;;) {
    const page = await store.readAll(cp, 1000);
    if (page.events.length === 0) break;
    out.push(...page.events);
    onPage?.(out.length, Math.max(total, out.length));
    if (page.checkpoint.pos === cp.pos && page.checkpoint.tx === cp.tx) break;
    cp = page.checkpoint;
  }
  return out;
}
