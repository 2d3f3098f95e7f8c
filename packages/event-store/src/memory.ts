import type { AnyEnvelope, StoredEvent } from '@regstream/domain';
import { uniqueById } from './rows';
import {
  type AppendedEvent,
  type AppendOptions,
  type AppendRequest,
  type AppendResult,
  type Checkpoint,
  checkExpected,
  type EventStore,
  type ExpectedVersion,
  type LocatedEvent,
  IdempotencyKeyReusedError,
  mergeRequests,
  type OutboxBatch,
  type ReadAllFilter,
  type ReadAllResult,
} from './types';

/** In-memory store for unit tests; passes the same contract suite as the SQL drivers. */
export class InMemoryEventStore implements EventStore {
  readonly driver = 'memory' as const;
  private readonly log: StoredEvent[] = [];
  private readonly byId = new Map<string, StoredEvent>();
  private readonly byKey = new Map<string, StoredEvent>();
  private readonly versions = new Map<string, number>();
  private readonly outbox = new Set<string>();
  private readonly idem = new Map<string, { hash: string; result: AppendResult }>();
  private claimed = false;

  append(streamId: string, events: readonly AnyEnvelope[], expectedVersion?: ExpectedVersion, opts?: AppendOptions): Promise<AppendResult> {
    return this.appendBatch([{ streamId, events, ...(expectedVersion !== undefined ? { expectedVersion } : {}) }], opts);
  }

  appendBatch(requests: readonly AppendRequest[], opts: AppendOptions = {}): Promise<AppendResult> {
    try {
      return Promise.resolve(this.appendSync(requests, opts));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private appendSync(requests: readonly AppendRequest[], opts: AppendOptions): AppendResult {
    if (opts.idempotencyKey) {
      const prior = this.idem.get(opts.idempotencyKey);
      if (prior) {
        if (opts.requestHash !== undefined && prior.hash !== opts.requestHash) throw new IdempotencyKeyReusedError(opts.idempotencyKey);
        return { ...prior.result, replayed: true, written: 0, events: prior.result.events.map((e) => ({ ...e, duplicate: true })) };
      }
    }
    const merged = mergeRequests(requests).map((r) => ({ ...r, events: uniqueById(r.events) }));
    const isDup = (e: AnyEnvelope) => this.byId.has(e.id) || (e.idempotencykey !== undefined && this.byKey.has(e.idempotencykey));
    // Check every stream before writing anything: all or nothing.
    for (const r of merged) {
      if (r.events.some((e) => !isDup(e))) checkExpected(r.streamId, r.expectedVersion, this.versions.get(r.streamId) ?? 0);
    }
    const recorded = (opts.now ?? new Date()).toISOString();
    const out: AppendedEvent[] = [];
    let written = 0;
    for (const r of merged) {
      for (const e of r.events) {
        const prior = this.byId.get(e.id) ?? (e.idempotencykey !== undefined ? this.byKey.get(e.idempotencykey) : undefined);
        if (prior) {
          out.push({ id: prior.id, streamId: prior.subject, streamVersion: prior.streamversion, position: prior.position, duplicate: true });
          continue;
        }
        const version = (this.versions.get(r.streamId) ?? 0) + 1;
        this.versions.set(r.streamId, version);
        const stored = { ...e, recordedtime: recorded, streamversion: version, position: String(this.log.length + 1) } as StoredEvent;
        this.log.push(stored);
        this.byId.set(e.id, stored);
        if (e.idempotencykey !== undefined) this.byKey.set(e.idempotencykey, stored);
        this.outbox.add(stored.position);
        out.push({ id: e.id, streamId: r.streamId, streamVersion: version, position: stored.position, duplicate: false });
        written += 1;
      }
    }
    const result: AppendResult = { events: out, replayed: false, written };
    if (opts.idempotencyKey) this.idem.set(opts.idempotencyKey, { hash: opts.requestHash ?? '', result });
    return result;
  }

  findIdempotent(key: string, requestHash?: string): Promise<AppendResult | null> {
    const prior = this.idem.get(key);
    if (!prior) return Promise.resolve(null);
    if (requestHash !== undefined && prior.hash !== requestHash) return Promise.reject(new IdempotencyKeyReusedError(key));
    return Promise.resolve({ ...prior.result, replayed: true, written: 0, events: prior.result.events.map((e) => ({ ...e, duplicate: true })) });
  }

  readAll(after: Checkpoint, limit: number, filter?: ReadAllFilter): Promise<ReadAllResult> {
    const from = Number(after.pos);
    const events = this.log
      .slice(from)
      .filter((e) => (filter?.streamId === undefined || e.subject === filter.streamId) && (!filter?.types?.length || filter.types.includes(e.type)))
      .slice(0, limit);
    const last = events[events.length - 1];
    return Promise.resolve({ events, checkpoint: last ? { tx: last.position, pos: last.position } : after });
  }

  readStream(streamId: string, fromVersion = 1): Promise<StoredEvent[]> {
    return Promise.resolve(this.log.filter((e) => e.subject === streamId && e.streamversion >= fromVersion));
  }

  readStreams(streamIds: readonly string[]): Promise<Map<string, StoredEvent[]>> {
    const want = new Set(streamIds);
    const out = new Map<string, StoredEvent[]>(streamIds.map((s) => [s, []]));
    for (const e of this.log) if (want.has(e.subject)) out.get(e.subject)?.push(e);
    return Promise.resolve(out);
  }

  locate(ids: readonly string[], idempotencyKeys: readonly string[] = []): Promise<LocatedEvent[]> {
    const want = new Set(ids);
    const keys = new Set(idempotencyKeys);
    const out: LocatedEvent[] = [];
    for (const e of this.log) {
      if (want.has(e.id) || (e.idempotencykey !== undefined && keys.has(e.idempotencykey))) {
        out.push({ id: e.id, streamId: e.subject, streamVersion: e.streamversion, idempotencyKey: e.idempotencykey ?? null });
      }
    }
    return Promise.resolve(out);
  }

  streamVersion(streamId: string): Promise<number> {
    return Promise.resolve(this.versions.get(streamId) ?? 0);
  }

  claimOutbox(limit: number): Promise<OutboxBatch | null> {
    if (this.claimed || this.outbox.size === 0) return Promise.resolve(null);
    const positions = [...this.outbox].map(Number).sort((a, b) => a - b).slice(0, limit);
    const events = positions.map((p) => this.log[p - 1] as StoredEvent);
    this.claimed = true;
    let open = true;
    return Promise.resolve({
      events,
      ack: () => {
        if (open) for (const p of positions) this.outbox.delete(String(p));
        open = false;
        this.claimed = false;
        return Promise.resolve();
      },
      release: () => {
        open = false;
        this.claimed = false;
        return Promise.resolve();
      },
    });
  }

  outboxSize(): Promise<number> {
    return Promise.resolve(this.outbox.size);
  }

  count(): Promise<number> {
    return Promise.resolve(this.log.length);
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
