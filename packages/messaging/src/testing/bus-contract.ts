import type { StoredEvent } from '@regstream/domain';
import type { EventSource, Publisher, SourceBatch } from '../types';

let nextPosition = 0;

/** A stored event with a unique, rising global position (as the store would give it). */
export function busEvent(stream: string, n: number, position?: number): StoredEvent {
  nextPosition = Math.max(nextPosition + 1, position ?? 0);
  return {
    specversion: '1.0',
    id: `${stream}-${n}-${Math.random().toString(36).slice(2, 8)}`,
    source: 'bus-test',
    type: 'InstrumentProposed',
    schemaversion: 1,
    subject: stream,
    time: '2026-11-29T00:00:00.000Z',
    datacontenttype: 'application/json',
    validtime: '2021-01-01',
    knowntime: '2021-01-01',
    citation: { url: 'https://example.org', tier: 'primary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' },
    data: { instrumentId: stream.replace('instrument-', ''), summary: String(n) },
    recordedtime: '2026-11-29T00:00:00.000Z',
    streamversion: n,
    position: String(position ?? nextPosition),
  };
}

export interface BusUnderTest {
  publisher: Publisher;
  /** A fresh consumer (a new member of whatever group it joins). */
  source(): EventSource;
  close(): Promise<void>;
}

const until = async (check: () => boolean, ms: number) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
};

/** One suite for the Kafka topic and the in-process bus. */
export function busContract(name: string, factory: () => Promise<BusUnderTest>, timeoutMs = 20000): void {
  describe(`bus contract: ${name}`, () => {
    let bus: BusUnderTest;
    const sources: EventSource[] = [];
    beforeEach(async () => {
      bus = await factory();
    });
    afterEach(async () => {
      await Promise.all(sources.splice(0).map((s) => s.stop()));
      await bus.close();
    });

    const consume = async (groupId: string, into: SourceBatch[], checkpoint?: (p: string) => Promise<string | null>) => {
      const s = bus.source();
      sources.push(s);
      await s.run({ groupId, fromBeginning: true, ...(checkpoint ? { checkpoint } : {}) }, (b) => {
        into.push(b);
        return Promise.resolve();
      });
    };

    it('delivers every event once and keeps each stream in order', async () => {
      const streams = Array.from({ length: 8 }, (_, i) => `instrument-s${i}`);
      const events = Array.from({ length: 120 }, (_, i) => busEvent(streams[i % 8] as string, Math.floor(i / 8) + 1));
      const got: SourceBatch[] = [];
      await consume('g-order', got);
      for (let i = 0; i < events.length; i += 30) await bus.publisher.publish(events.slice(i, i + 30));
      await until(() => got.reduce((s, b) => s + b.events.length, 0) >= events.length, timeoutMs);
      const all = got.flatMap((b) => b.events);
      expect(new Set(all.map((e) => e.id)).size).toBe(events.length);
      for (const s of streams) {
        const versions = all.filter((e) => e.subject === s).map((e) => e.streamversion);
        expect(versions).toEqual([...versions].sort((a, b) => a - b));
      }
      expect(all.find((e) => e.id === events[0]?.id)).toMatchObject({ ...events[0] });
    });

    it('shares partitions between two members of one group', async () => {
      const a: SourceBatch[] = [];
      const b: SourceBatch[] = [];
      await consume('g-share', a);
      await consume('g-share', b);
      const events = Array.from({ length: 60 }, (_, i) => busEvent(`instrument-p${i % 12}`, Math.floor(i / 12) + 1));
      // Give the group time to settle before publishing.
      await new Promise((r) => setTimeout(r, name.startsWith('kafka') ? 4000 : 50));
      await bus.publisher.publish(events);
      const count = () => [...a, ...b].reduce((s, x) => s + x.events.length, 0);
      await until(() => count() >= events.length, timeoutMs);
      const pa = new Set(a.map((x) => x.partition));
      const pb = new Set(b.map((x) => x.partition));
      for (const p of pa) expect(pb.has(p)).toBe(false);
      expect(new Set([...a, ...b].flatMap((x) => x.events.map((e) => e.id))).size).toBe(events.length);
    });

    it('skips what the consumer checkpoint already covers', async () => {
      await bus.publisher.publish(Array.from({ length: 10 }, (_, i) => busEvent('instrument-one', i + 1)));
      // Learn the partition's offsets with one group, then pretend a second group's read model holds the first five.
      const first: SourceBatch[] = [];
      await consume('g-learn', first);
      await until(() => first.reduce((s, x) => s + x.events.length, 0) >= 10, timeoutMs);
      const offsets = first.flatMap((x) => x.offsets);
      const got: SourceBatch[] = [];
      await consume('g-checkpoint', got, () => Promise.resolve(offsets[4] as string));
      await until(() => got.reduce((s, x) => s + x.events.length, 0) >= 5, timeoutMs);
      await new Promise((r) => setTimeout(r, 200));
      expect(got.flatMap((x) => x.events.map((e) => e.streamversion))).toEqual([6, 7, 8, 9, 10]);
      expect(got.flatMap((x) => x.offsets)).toEqual(offsets.slice(5));
    });
  });
}

