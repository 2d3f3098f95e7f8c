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

/**
 * The in-process bus of the embedded mode: a partitioned log with consumer groups, keyed by stream
 * id like the Kafka topic, so consumers behave the same on both.
 */
export class InProcessBus implements Publisher {
  private readonly log: StoredEvent[][];
  private readonly members: Member[] = [];
  /** groupId → partition → next offset to deliver. */
  private readonly committed = new Map<string, Map<number, number>>();

  constructor(readonly partitions = 6) {
    this.log = Array.from({ length: partitions }, () => []);
  }

  publish(events: readonly StoredEvent[]): Promise<void> {
    for (const e of events) this.log[partitionOf(e.subject, this.partitions)]?.push(e);
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
      run: (opts, handler) => {
        member = this.join(opts, handler);
        return Promise.resolve();
      },
      stop: () => {
        if (member) this.leave(member);
        return Promise.resolve();
      },
    };
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
    const offsets = this.committed.get(opts.groupId) ?? new Map<number, number>();
    this.committed.set(opts.groupId, offsets);
    const loop = async () => {
      while (!member.stopped) {
        let delivered = false;
        for (const p of [...member.partitions]) {
          const from = offsets.get(p) ?? 0;
          const events = (this.log[p] ?? []).slice(from, from + 500);
          if (events.length === 0) continue;
          const name = String(p);
          const checkpoint = opts.checkpoint ? await opts.checkpoint(name) : null;
          const idx = events.map((_, i) => String(from + i)).filter((o) => offsetAfter(o, checkpoint));
          const fresh = idx.map((o) => events[Number(o) - from] as StoredEvent);
          try {
            if (fresh.length) await handler({ partition: name, events: fresh, offsets: idx });
            offsets.set(p, from + events.length);
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
