import type { AnyEnvelope } from '@regstream/domain';
import { ConcurrencyError, type EventStore, IdempotencyKeyReusedError, START } from '../types';

let seq = 0;
/** A valid instrument event for contract tests. */
export function testEvent(stream: string, over: Partial<AnyEnvelope> = {}): AnyEnvelope {
  seq += 1;
  const n = `${Date.now().toString(16)}${seq.toString(16).padStart(6, '0')}`.slice(-12).padStart(12, '0');
  return {
    specversion: '1.0',
    id: `00000000-0000-4000-8000-${n}`,
    source: 'contract-test',
    type: 'InstrumentProposed',
    schemaversion: 1,
    subject: stream,
    time: '2026-11-29T00:00:00.000Z',
    datacontenttype: 'application/json',
    validtime: '2021-04-21',
    knowntime: '2021-04-21',
    citation: { url: 'https://example.org/a', tier: 'secondary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' },
    data: { instrumentId: stream.replace(/^instrument-/, ''), summary: `event ${seq}` },
    ...over,
  } as AnyEnvelope;
}

const stream = (name: string) => `instrument-${name}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * One suite, every driver (Emmett's contract pattern). `factory` gives a fresh, empty store;
 * `teardown` closes it.
 */
export function eventStoreContract(name: string, factory: () => Promise<EventStore>, teardown: (s: EventStore) => Promise<void> = (s) => s.close()): void {
  describe(`event store contract: ${name}`, () => {
    let store: EventStore;
    beforeEach(async () => {
      store = await factory();
    });
    afterEach(async () => {
      await teardown(store);
    });

    it('appends to a new stream with gap-free versions and rising positions', async () => {
      const s = stream('a');
      const r = await store.append(s, [testEvent(s), testEvent(s), testEvent(s)], 'no_stream');
      expect(r.written).toBe(3);
      expect(r.events.map((e) => e.streamVersion)).toEqual([1, 2, 3]);
      const pos = r.events.map((e) => BigInt(e.position));
      expect(pos[0]! < pos[1]! && pos[1]! < pos[2]!).toBe(true);
      expect(await store.streamVersion(s)).toBe(3);
      const more = await store.append(s, [testEvent(s)], 3);
      expect(more.events[0]?.streamVersion).toBe(4);
    });

    it('refuses a stale expected version with a typed error and writes nothing', async () => {
      const s = stream('b');
      await store.append(s, [testEvent(s)], 'no_stream');
      await expect(store.append(s, [testEvent(s)], 0)).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.append(s, [testEvent(s)], 'no_stream')).rejects.toBeInstanceOf(ConcurrencyError);
      const none = stream('none');
      await expect(store.append(none, [testEvent(none)], 'exists')).rejects.toBeInstanceOf(ConcurrencyError);
      await expect(store.append(none, [testEvent(stream('other'))])).rejects.toThrow(/belongs to stream/);
      expect(await store.streamVersion(s)).toBe(1);
      expect(await store.count()).toBe(1);
    });

    it('writes a multi-stream batch all or nothing', async () => {
      const s1 = stream('c1');
      const s2 = stream('c2');
      await store.append(s2, [testEvent(s2)]);
      const before = await store.count();
      await expect(
        store.appendBatch([
          { streamId: s1, events: [testEvent(s1), testEvent(s1)], expectedVersion: 'no_stream' },
          { streamId: s2, events: [testEvent(s2)], expectedVersion: 5 },
        ]),
      ).rejects.toBeInstanceOf(ConcurrencyError);
      expect(await store.count()).toBe(before);
      expect(await store.streamVersion(s1)).toBe(0);
      const ok = await store.appendBatch([
        { streamId: s1, events: [testEvent(s1)] },
        { streamId: s2, events: [testEvent(s2)], expectedVersion: 1 },
      ]);
      expect(ok.written).toBe(2);
    });

    it('gives every stream of a wide batch its own gap-free versions and checks each one\'s expected version', async () => {
      const streams = Array.from({ length: 40 }, (_, i) => stream(`w${i}`));
      // Every fourth stream already has two events; the batch interleaves the streams' events.
      for (const s of streams.filter((_, i) => i % 4 === 0)) await store.append(s, [testEvent(s), testEvent(s)], 'no_stream');
      const requests = [0, 1, 2].flatMap((round) =>
        streams.map((s, i) => ({ streamId: s, events: [testEvent(s)], ...(round === 0 ? { expectedVersion: i % 4 === 0 ? 2 : ('no_stream' as const) } : {}) })),
      );
      const r = await store.appendBatch(requests);
      expect(r.written).toBe(120);
      for (const [i, s] of streams.entries()) {
        const base = i % 4 === 0 ? 2 : 0;
        expect(r.events.filter((e) => e.streamId === s).map((e) => e.streamVersion)).toEqual([base + 1, base + 2, base + 3]);
      }
      const before = await store.count();
      const stale = streams.map((s, i) => ({ streamId: s, events: [testEvent(s)], expectedVersion: i === 23 ? 2 : i % 4 === 0 ? 5 : 3 }));
      await expect(store.appendBatch(stale)).rejects.toMatchObject({ streamId: streams[23], actual: 3 });
      expect(await store.count()).toBe(before);
    });

    it('answers a repeated idempotency key with the original positions and writes nothing', async () => {
      const s = stream('d');
      const events = [testEvent(s), testEvent(s)];
      const first = await store.append(s, events, undefined, { idempotencyKey: `k-${s}`, requestHash: 'h1' });
      const again = await store.append(s, [testEvent(s)], undefined, { idempotencyKey: `k-${s}`, requestHash: 'h1' });
      expect(again.replayed).toBe(true);
      expect(again.written).toBe(0);
      expect(again.events.map((e) => e.position)).toEqual(first.events.map((e) => e.position));
      expect(await store.count()).toBe(2);
      await expect(store.append(s, [testEvent(s)], undefined, { idempotencyKey: `k-${s}`, requestHash: 'other' })).rejects.toBeInstanceOf(
        IdempotencyKeyReusedError,
      );
      const found = await store.findIdempotent(`k-${s}`, 'h1');
      expect(found?.events.map((e) => e.position)).toEqual(first.events.map((e) => e.position));
      expect(await store.findIdempotent(`nothing-${s}`)).toBeNull();
      await expect(store.findIdempotent(`k-${s}`, 'other')).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    });

    it('treats an event id or event idempotency key seen before as a duplicate', async () => {
      const s = stream('e');
      const e1 = testEvent(s, { idempotencykey: `corpus/${s}/1` });
      const first = await store.append(s, [e1]);
      const again = await store.append(s, [e1, testEvent(s, { idempotencykey: `corpus/${s}/1` })]);
      expect(again.written).toBe(0);
      expect(again.events.every((e) => e.duplicate)).toBe(true);
      expect(again.events[0]?.position).toBe(first.events[0]?.position);
      // A stale expected version does not matter when nothing new would be written.
      const replay = await store.append(s, [e1], 'no_stream');
      expect(replay.written).toBe(0);
      // A new id under a known event idempotency key, on its own: the stored event's place comes back.
      const byKey = await store.append(s, [testEvent(s, { idempotencykey: `corpus/${s}/1` })], 'no_stream');
      expect(byKey.written).toBe(0);
      expect(byKey.events[0]).toMatchObject({ duplicate: true, streamId: s, streamVersion: 1, position: first.events[0]?.position });
      expect(await store.streamVersion(s)).toBe(1);
    });

    it('reads all events from a checkpoint in batches, in order, without loss', async () => {
      const streams = [stream('f1'), stream('f2'), stream('f3')];
      const written: string[] = [];
      for (let i = 0; i < 12; i++) {
        const s = streams[i % 3] as string;
        const r = await store.append(s, [testEvent(s)]);
        written.push(r.events[0]!.id);
      }
      const seen: string[] = [];
      let cp = START;
      for (;;) {
        const page = await store.readAll(cp, 5);
        if (page.events.length === 0) break;
        seen.push(...page.events.map((e) => e.id));
        cp = page.checkpoint;
      }
      expect(seen).toEqual(written);
      const filtered = await store.readAll(START, 100, { streamId: streams[1] });
      expect(filtered.events.map((e) => e.subject)).toEqual(Array(4).fill(streams[1]));
      const none = await store.readAll(START, 100, { types: ['StanceCoded'] });
      expect(none.events).toEqual([]);
    });

    it('reads one stream from a version and keeps the envelope intact', async () => {
      const s = stream('g');
      const e = testEvent(s, { correlationid: 'corr-1', causationid: 'cause-1', idempotencykey: `ik-${s}` });
      await store.append(s, [e, testEvent(s), testEvent(s)]);
      const all = await store.readStream(s);
      expect(all).toHaveLength(3);
      expect(all[0]).toMatchObject({ ...e, streamversion: 1 });
      expect(typeof all[0]?.recordedtime).toBe('string');
      expect((await store.readStream(s, 2)).map((x) => x.streamversion)).toEqual([2, 3]);
      const other = stream('g2');
      await store.append(other, [testEvent(other)]);
      const both = await store.readStreams([s, other, stream('empty')]);
      expect([...both.values()].map((evs) => evs.length)).toEqual([3, 1, 0]);
      expect(both.get(s)?.map((x) => x.id)).toEqual(all.map((x) => x.id));
    });

    it('locates events by id and by idempotency key, whatever stream they are in', async () => {
      const s = stream('loc');
      const other = stream('loc2');
      const keyed = testEvent(s, { idempotencykey: `ik-loc-${s}` });
      const plain = testEvent(s);
      const elsewhere = testEvent(other);
      await store.append(s, [keyed, plain]);
      await store.append(other, [elsewhere]);
      const found = await store.locate([plain.id, elsewhere.id, 'no-such-event', plain.id], [`ik-loc-${s}`, 'no-such-key']);
      const byId = new Map(found.map((f) => [f.id, f]));
      expect([...byId.keys()].sort()).toEqual([keyed.id, plain.id, elsewhere.id].sort());
      expect(byId.get(keyed.id)).toEqual({ id: keyed.id, streamId: s, streamVersion: 1, idempotencyKey: `ik-loc-${s}` });
      expect(byId.get(plain.id)).toEqual({ id: plain.id, streamId: s, streamVersion: 2, idempotencyKey: null });
      expect(byId.get(elsewhere.id)?.streamId).toBe(other);
      expect(await store.locate([], [])).toEqual([]);
    });

    it('fills the outbox in the same transaction and drains it in position order', async () => {
      const s = stream('h');
      await store.append(s, [testEvent(s), testEvent(s), testEvent(s)]);
      expect(await store.outboxSize()).toBe(3);
      const b1 = await store.claimOutbox(2);
      expect(b1?.events.map((e) => e.streamversion)).toEqual([1, 2]);
      await b1?.release();
      expect(await store.outboxSize()).toBe(3);
      const b2 = await store.claimOutbox(2);
      await b2?.ack();
      expect(await store.outboxSize()).toBe(1);
      const b3 = await store.claimOutbox(10);
      expect(b3?.events.map((e) => e.streamversion)).toEqual([3]);
      await b3?.ack();
      expect(await store.claimOutbox(10)).toBeNull();
    });

    it('lets exactly one of many parallel writers win each version', async () => {
      const s = stream('i');
      await store.append(s, [testEvent(s)]);
      const attempts = await Promise.allSettled(Array.from({ length: 8 }, () => store.append(s, [testEvent(s)], 1)));
      const won = attempts.filter((a) => a.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const a of attempts) if (a.status === 'rejected') expect(a.reason).toBeInstanceOf(ConcurrencyError);
      // Writers that do not care about the version all get in, each with its own version.
      const free = await Promise.all(Array.from({ length: 6 }, () => store.append(s, [testEvent(s)], 'any')));
      expect(new Set(free.map((r) => r.events[0]?.streamVersion)).size).toBe(6);
      const versions = (await store.readStream(s)).map((e) => e.streamversion);
      expect(versions).toEqual(Array.from({ length: 8 }, (_, i) => i + 1));
    });
  });
}
