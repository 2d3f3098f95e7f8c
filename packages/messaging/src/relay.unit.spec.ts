import type { StoredEvent } from '@regstream/domain';
import { type OutboxSource, OutboxRelay } from './relay';
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
