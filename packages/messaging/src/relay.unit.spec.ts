import type { StoredEvent } from '@regstream/domain';
import { type OutboxClaim, type OutboxSource, OutboxRelay } from './relay';
import { busEvent } from './testing';
import type { Publisher } from './types';

/** An outbox in memory; `claims` counts the looks at it. */
class MemoryOutbox implements OutboxSource {
  rows: StoredEvent[] = [];
  claims = 0;
  /** Runs during the next claim, after the outbox was read (a commit racing the relay's look). */
  duringClaim: (() => void) | null = null;
  claimOutbox(limit: number) {
    this.claims += 1;
    const batch = this.rows.slice(0, limit);
    const hook = this.duringClaim;
    this.duringClaim = null;
    hook?.();
    if (batch.length === 0) return Promise.resolve(null);
    return Promise.resolve({
      events: batch,
      ack: () => {
        this.rows = this.rows.filter((r) => !batch.includes(r));
        return Promise.resolve();
      },
      release: () => Promise.resolve(),
    });
  }
}

class Collecting implements Publisher {
  readonly got: { id: string; at: number }[] = [];
  publish(events: readonly StoredEvent[]): Promise<void> {
    for (const e of events) this.got.push({ id: e.id, at: Date.now() });
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(check: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('OutboxRelay wake-ups and polling', () => {
  let relay: OutboxRelay;
  afterEach(async () => {
    await relay.stop();
  });

  it('a wake-up during a look that found nothing makes it look again at once (no wake-up is lost)', async () => {
    const outbox = new MemoryOutbox();
    const pub = new Collecting();
    relay = new OutboxRelay(outbox, pub, { idleMs: 60_000 });
    relay.start();
    await until(() => outbox.claims === 1, 1000);
    await sleep(20);
    // The row is committed and announced while the relay is reading an (empty) outbox.
    const e = busEvent('instrument-race', 1);
    outbox.duringClaim = () => {
      outbox.rows.push(e);
      relay.wake();
    };
    relay.wake();
    await until(() => pub.got.length === 1, 1000);
    expect(pub.got[0]?.id).toBe(e.id);
  });

  it('trusts wake-ups once they announce rows: polls slowly then, and moves announced rows at once', async () => {
    const outbox = new MemoryOutbox();
    const pub = new Collecting();
    relay = new OutboxRelay(outbox, pub, { idleMs: 20, notifiedIdleMs: 60_000 });
    relay.start();
    expect(relay.pollMs).toBe(20);
    outbox.rows.push(busEvent('instrument-w', 1));
    relay.wake();
    await until(() => pub.got.length === 1, 1000);
    await until(() => relay.pollMs === 60_000, 1000);
    const claims = outbox.claims;
    await sleep(200);
    // No polling while notified: the relay waits for the next wake-up.
    expect(outbox.claims).toBe(claims);
    const at = Date.now();
    outbox.rows.push(busEvent('instrument-w', 2));
    relay.wake();
    await until(() => pub.got.length === 2, 1000);
    expect((pub.got[1]?.at ?? Infinity) - at).toBeLessThan(100);
  });

  it('returns to fast polling when a poll finds rows nobody announced (a writer that does not notify)', async () => {
    const outbox = new MemoryOutbox();
    const pub = new Collecting();
    relay = new OutboxRelay(outbox, pub, { idleMs: 20, notifiedIdleMs: 300 });
    relay.start();
    outbox.rows.push(busEvent('instrument-q', 1));
    relay.wake();
    await until(() => relay.pollMs === 300, 1000);
    // Unannounced: found by the 300 ms fallback poll.
    outbox.rows.push(busEvent('instrument-q', 2));
    await until(() => pub.got.length === 2, 2000);
    expect(relay.pollMs).toBe(20);
    // From now on unannounced rows go out within the fast poll.
    const at = Date.now();
    outbox.rows.push(busEvent('instrument-q', 3));
    await until(() => pub.got.length === 3, 1000);
    expect((pub.got[2]?.at ?? Infinity) - at).toBeLessThan(150);
  });

  it('a wake-up that finds nothing (a reconnecting listener) does not stop the polling', async () => {
    const outbox = new MemoryOutbox();
    const pub = new Collecting();
    relay = new OutboxRelay(outbox, pub, { idleMs: 20, notifiedIdleMs: 60_000 });
    relay.start();
    relay.wake();
    await sleep(50);
    expect(relay.pollMs).toBe(20);
    outbox.rows.push(busEvent('instrument-n', 1));
    await until(() => pub.got.length === 1, 1000);
  });
});

describe('OutboxRelay coalescing', () => {
  let relay: OutboxRelay;
  afterEach(async () => {
    await relay.stop();
  });

  it('while appends keep coming, gathers them into one batch per coalesceMs instead of one per wake-up', async () => {
    const outbox = new MemoryOutbox();
    const pub = new Collecting();
    let batches = 0;
    relay = new OutboxRelay(outbox, pub, { idleMs: 60_000, coalesceMs: 100, onRelayed: () => void (batches += 1) });
    relay.start();
    await until(() => outbox.claims === 1, 1000);
    // A first append after a quiet spell goes out at once.
    const at = Date.now();
    outbox.rows.push(busEvent('instrument-co', 1));
    relay.wake();
    await until(() => pub.got.length === 1, 1000);
    expect((pub.got[0]?.at ?? Infinity) - at).toBeLessThan(50);
    // Then ten appends 10 ms apart, each announced: a couple of batches, not ten.
    const pushed = new Map<string, number>();
    for (let i = 2; i <= 11; i++) {
      const e = busEvent('instrument-co', i);
      pushed.set(e.id, Date.now());
      outbox.rows.push(e);
      relay.wake();
      await sleep(10);
    }
    await until(() => pub.got.length === 11, 2000);
    expect(batches).toBeLessThanOrEqual(4);
    // Each still went out within about coalesceMs of its wake-up.
    for (const g of pub.got.slice(1)) expect(g.at - (pushed.get(g.id) ?? 0)).toBeLessThan(100 + 60);
  });

  it('drains a backlog without pausing: a full batch is followed by the next look at once', async () => {
    const outbox = new MemoryOutbox();
    const pub = new Collecting();
    relay = new OutboxRelay(outbox, pub, { idleMs: 60_000, coalesceMs: 1000, batchSize: 10 });
    outbox.rows.push(...Array.from({ length: 35 }, (_, i) => busEvent('instrument-backlog', i + 1)));
    const at = Date.now();
    relay.start();
    // Three full batches back to back; the fourth (5 rows) follows at once too.
    await until(() => pub.got.length === 35, 500);
    expect(Date.now() - at).toBeLessThan(500);
  });

  it('stops promptly in the middle of a pause', async () => {
    const outbox = new MemoryOutbox();
    const pub = new Collecting();
    relay = new OutboxRelay(outbox, pub, { idleMs: 60_000, coalesceMs: 60_000 });
    outbox.rows.push(busEvent('instrument-stop', 1));
    relay.start();
    await until(() => pub.got.length === 1, 1000);
    relay.wake();
    const at = Date.now();
    await relay.stop();
    expect(Date.now() - at).toBeLessThan(200);
  });
});

/**
 * An outbox whose batches can claim the rows after them (like PostgreSQL's claimNext): a claim skips
 * only the rows of the batch it follows, and a row leaves only when its batch is acked.
 */
class PipelinedOutbox implements OutboxSource {
  rows: StoredEvent[] = [];
  readonly held = new Set<StoredEvent>();
  readonly log: string[] = [];
  private n = 0;
  claimOutbox(limit: number): Promise<OutboxClaim | null> {
    return Promise.resolve(this.claim(limit, new Set()));
  }
  private claim(limit: number, skip: ReadonlySet<StoredEvent>): OutboxClaim | null {
    const free = this.rows.filter((r) => !skip.has(r));
    // Like FOR UPDATE without SKIP LOCKED: a row held by another batch is never passed.
    const upTo = free.findIndex((r) => this.held.has(r));
    const batch = (upTo < 0 ? free : free.slice(0, upTo)).slice(0, limit);
    if (batch.length === 0) return null;
    const id = ++this.n;
    for (const r of batch) this.held.add(r);
    this.log.push(`claim ${id}`);
    let open = true;
    const end = (how: string) => {
      if (!open) return;
      open = false;
      for (const r of batch) this.held.delete(r);
      if (how === 'ack') this.rows = this.rows.filter((r) => !batch.includes(r));
      this.log.push(`${how} ${id}`);
    };
    return {
      events: batch,
      ack: () => Promise.resolve(end('ack')),
      release: () => Promise.resolve(end('release')),
      claimNext: (l) => Promise.resolve(open ? this.claim(l, new Set(batch)) : null),
    };
  }
}

/** Publishes after a tick, logging to the outbox's log; fails the calls listed in `failing`. */
class SlowPublisher implements Publisher {
  readonly got: StoredEvent[] = [];
  calls = 0;
  failing = new Set<number>();
  constructor(private readonly log: string[]) {}
  async publish(events: readonly StoredEvent[]): Promise<void> {
    const call = ++this.calls;
    this.log.push(`publish ${events.map((e) => e.streamversion).join(',')}`);
    await sleep(5);
    if (this.failing.has(call)) throw new Error(`broker down (call ${call})`);
    this.got.push(...events);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('OutboxRelay pipelining', () => {
  const backlog = (n: number) => Array.from({ length: n }, (_, i) => busEvent(`instrument-p${i % 3}`, Math.floor(i / 3) + 1));
  /** Each stream's versions in the order they were first published. */
  const firstSeen = (events: readonly StoredEvent[]) => {
    const seen = new Set<string>();
    const per = new Map<string, number[]>();
    for (const e of events) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      per.set(e.subject, [...(per.get(e.subject) ?? []), e.streamversion]);
    }
    return per;
  };

  it('claims the next batch while one is published, and publishes each only after the one before was acked', async () => {
    const outbox = new PipelinedOutbox();
    outbox.rows.push(...backlog(10));
    const pub = new SlowPublisher(outbox.log);
    const relay = new OutboxRelay(outbox, pub, { batchSize: 4 });
    expect(await relay.drain()).toBe(10);
    expect(outbox.log).toEqual([
      'claim 1',
      'claim 2',
      'publish 1,1,1,2',
      'ack 1',
      'claim 3',
      'publish 2,2,3,3',
      'ack 2',
      // batch 3 is short: the outbox is drained, so nothing is claimed ahead of it
      'publish 3,4',
      'ack 3',
    ]);
    expect(outbox.rows).toEqual([]);
    for (const versions of firstSeen(pub.got).values()) expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });

  it('after a failed publish releases the batch claimed ahead too, and re-sends from the first unacked row: nothing lost, order kept', async () => {
    const outbox = new PipelinedOutbox();
    const rows = backlog(12);
    outbox.rows.push(...rows);
    const pub = new SlowPublisher(outbox.log);
    pub.failing.add(2);
    const errors: unknown[] = [];
    const relay = new OutboxRelay(outbox, pub, { batchSize: 4, onError: (e) => errors.push(e) });
    expect(await relay.relayOnce()).toBe(4);
    await expect(relay.relayOnce()).rejects.toThrow(/broker down/);
    expect(outbox.log.slice(-3)).toEqual(['publish 2,2,3,3', 'release 2', 'release 3']);
    expect(outbox.held.size).toBe(0);
    expect(await relay.drain()).toBe(8);
    expect(pub.got.map((e) => e.id)).toEqual(rows.map((e) => e.id));
    expect(outbox.rows).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('a crash between publish and ack (ack fails) releases the batch ahead; the unacked batch is re-sent first', async () => {
    const outbox = new PipelinedOutbox();
    const rows = backlog(8);
    outbox.rows.push(...rows);
    const pub = new SlowPublisher(outbox.log);
    const failingAck: OutboxSource = {
      claimOutbox: async (limit) => {
        const b = await outbox.claimOutbox(limit);
        // The first batch's commit is lost: it was published, but its rows stay.
        return b ? { ...b, ack: () => b.release().then(() => Promise.reject(new Error('connection lost during COMMIT'))) } : null;
      },
    };
    const relay = new OutboxRelay(failingAck, pub, { batchSize: 4 });
    await expect(relay.relayOnce()).rejects.toThrow(/COMMIT/);
    expect(outbox.log).toEqual(['claim 1', 'claim 2', 'publish 1,1,1,2', 'release 1', 'release 2']);
    expect(await new OutboxRelay(outbox, pub, { batchSize: 4 }).drain()).toBe(8);
    // The first batch twice (a duplicate after the crash), then everything in order.
    expect(pub.got.map((e) => e.id)).toEqual([...rows.slice(0, 4), ...rows].map((e) => e.id));
    for (const versions of firstSeen(pub.got).values()) expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });

  it('stop() releases a batch claimed ahead, and pipeline: false claims one batch at a time', async () => {
    const outbox = new PipelinedOutbox();
    outbox.rows.push(...backlog(8));
    const pub = new SlowPublisher(outbox.log);
    const relay = new OutboxRelay(outbox, pub, { batchSize: 4 });
    expect(await relay.relayOnce()).toBe(4);
    expect(outbox.held.size).toBe(4);
    await relay.stop();
    expect(outbox.held.size).toBe(0);
    expect(outbox.log.slice(-1)).toEqual(['release 2']);

    const serial = new PipelinedOutbox();
    serial.rows.push(...backlog(8));
    expect(await new OutboxRelay(serial, new SlowPublisher(serial.log), { batchSize: 4, pipeline: false }).drain()).toBe(8);
    expect(serial.log).toEqual(['claim 1', 'publish 1,1,1,2', 'ack 1', 'claim 2', 'publish 2,2,3,3', 'ack 2']);
  });

  it('a claim ahead that fails costs only the pipelining', async () => {
    const outbox = new PipelinedOutbox();
    outbox.rows.push(...backlog(8));
    const pub = new SlowPublisher(outbox.log);
    const errors: unknown[] = [];
    const flaky: OutboxSource = {
      claimOutbox: async (limit) => {
        const b = await outbox.claimOutbox(limit);
        return b ? { ...b, claimNext: () => Promise.reject(new Error('claim ahead failed')) } : null;
      },
    };
    const relay = new OutboxRelay(flaky, pub, { batchSize: 4, onError: (e) => errors.push(e) });
    expect(await relay.drain()).toBe(8);
    expect(errors).toHaveLength(2);
    expect(outbox.rows).toEqual([]);
  });
});
