import type { StoredEvent } from '@regstream/domain';
import { type BatchHandler, type EventSource, offsetAfter, type Publisher, type SubscribeOptions } from '../types';

function partitionOf(key: string, partitions: number): number {
  // FNV-1a: stable across runs, so a stream always lands in the same partition.
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % partitions;
}

interface Member {
  readonly groupId: string;
  readonly handler: BatchHandler;
  readonly opts: SubscribeOptions;
  partitions: number[];
  stopped: boolean;
  wake: () => void;
}

/** Reads the durable log after a position (the event store), so the bus can refill itself after a restart. */
export type BusHistory = (afterPosition: string, limit: number) => Promise<StoredEvent[]>;

const pos = (e: StoredEvent): bigint => BigInt(e.position);

/**
 * The in-process bus of the embedded mode: a partitioned log with consumer groups, keyed by stream
 * id like the Kafka topic, so consumers behave the same on both. Offsets are the events' global
 * positions, which survive a restart; with `history`, a joining consumer is first refilled from the
 * store after its own checkpoint, so nothing relayed before a crash is lost to it.
 */
export class InProcessBus implements Publisher {
  private readonly log: StoredEvent[][];
  private readonly seen: Set<string>[];
  private readonly members: Member[] = [];
  /** groupId → partition → last delivered position. */
  private readonly committed = new Map<string, Map<number, bigint>>();

  constructor(
    readonly partitions = 6,
    private readonly history?: BusHistory,
  ) {
    this.log = Array.from({ length: partitions }, () => []);
    this.seen = Array.from({ length: partitions }, () => new Set<string>());
  }

  private insert(e: StoredEvent): void {
    const p = partitionOf(e.subject, this.partitions);
    const seen = this.seen[p] as Set<string>;
    if (seen.has(e.position)) return;
    seen.add(e.position);
    const list = this.log[p] as StoredEvent[];
    let i = list.length;
    while (i > 0 && pos(list[i - 1] as StoredEvent) > pos(e)) i -= 1;
    list.splice(i, 0, e);
  }

  publish(events: readonly StoredEvent[]): Promise<void> {
    for (const e of events) this.insert(e);
    for (const m of this.members) m.wake();
    return Promise.resolve();
  }

  close(): Promise<void> {
    for (const m of this.members) {
      m.stopped = true;
      m.wake();
    }
    return Promise.resolve();
  }

  size(): number {
    return this.log.reduce((s, p) => s + p.length, 0);
  }

  source(): EventSource {
    let member: Member | null = null;
    return {
      run: async (opts, handler) => {
        await this.refill(opts);
        member = this.join(opts, handler);
      },
      stop: () => {
        if (member) this.leave(member);
        return Promise.resolve();
      },
    };
  }

  /** Loads what the store holds after the consumer's oldest checkpoint (a no-op without history). */
  private async refill(opts: SubscribeOptions): Promise<void> {
    if (!this.history) return;
    let after: bigint | null = null;
    for (let p = 0; p < this.partitions; p++) {
      const cp = opts.checkpoint ? await opts.checkpoint(String(p)) : null;
      const v = cp === null || opts.fromBeginning ? 0n : BigInt(cp);
      after = after === null || v < after ? v : after;
    }
    let cursor = (after ?? 0n).toString();
    for (;;) {
      const page = await this.history(cursor, 1000);
      if (page.length === 0) break;
      for (const e of page) this.insert(e);
      cursor = (page[page.length - 1] as StoredEvent).position;
    }
  }

  private rebalance(groupId: string): void {
    const group = this.members.filter((m) => m.groupId === groupId && !m.stopped);
    group.forEach((m) => (m.partitions = []));
    for (let p = 0; p < this.partitions; p++) group[p % group.length]?.partitions.push(p);
    group.forEach((m) => m.wake());
  }

  private join(opts: SubscribeOptions, handler: BatchHandler): Member {
    let wakeResolve: (() => void) | null = null;
    const member: Member = {
      groupId: opts.groupId,
      handler,
      opts,
      partitions: [],
      stopped: false,
      wake: () => {
        const r = wakeResolve;
        wakeResolve = null;
        r?.();
      },
    };
    this.members.push(member);
    this.rebalance(opts.groupId);
    const offsets = this.committed.get(opts.groupId) ?? new Map<number, bigint>();
    this.committed.set(opts.groupId, offsets);
    const loop = async () => {
      while (!member.stopped) {
        let delivered = false;
        for (const p of [...member.partitions]) {
          const last = offsets.get(p) ?? -1n;
          const list = this.log[p] ?? [];
          let start = list.length;
          while (start > 0 && pos(list[start - 1] as StoredEvent) > last) start -= 1;
          const events = list.slice(start, start + 500);
          if (events.length === 0) continue;
          const name = String(p);
          const checkpoint = opts.checkpoint ? await opts.checkpoint(name) : null;
          const fresh = events.filter((e) => offsetAfter(e.position, checkpoint));
          try {
            if (fresh.length) await handler({ partition: name, events: fresh, offsets: fresh.map((e) => e.position) });
            offsets.set(p, pos(events[events.length - 1] as StoredEvent));
            delivered = true;
          } catch {
            // Like Kafka: an unhandled batch is delivered again.
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        if (!delivered && !member.stopped) {
          await new Promise<void>((r) => {
            wakeResolve = r;
            setTimeout(r, 1000).unref?.();
          });
        }
      }
    };
    void loop();
    return member;
  }

  private leave(member: Member): void {
    member.stopped = true;
    member.wake();
    this.members.splice(this.members.indexOf(member), 1);
    this.rebalance(member.groupId);
  }
}
