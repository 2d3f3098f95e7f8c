import { busContract, busEvent } from '../testing';
import { InProcessBus } from './bus';

busContract('in-process bus', () => {
  const bus = new InProcessBus(6);
  return Promise.resolve({ publisher: bus, source: () => bus.source(), close: () => bus.close() });
});

describe('in-process bus after a restart', () => {
  it('refills a consumer from the store after its checkpoint, so events relayed before a crash are not lost', async () => {
    const stored = Array.from({ length: 8 }, (_, i) => busEvent(`instrument-r${i % 3}`, i + 1, i + 1));
    // A new process: the bus is empty, the store holds everything, the read model holds up to position 3.
    const bus = new InProcessBus(6, (after, limit) => Promise.resolve(stored.filter((e) => BigInt(e.position) > BigInt(after)).slice(0, limit)));
    const got: string[] = [];
    const source = bus.source();
    await source.run({ groupId: 'projector', checkpoint: () => Promise.resolve('3') }, (b) => {
      got.push(...b.offsets);
      return Promise.resolve();
    });
    await bus.publish([busEvent('instrument-r9', 9, 9)]);
    const deadline = Date.now() + 5000;
    while (got.length < 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await source.stop();
    await bus.close();
    expect(got.map(Number).sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9]);
  });
});
