import { whileHeartbeating } from './kafka';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('whileHeartbeating', () => {
  it('beats while the work runs, stops when it ends, and returns its result', async () => {
    let beats = 0;
    const out = await whileHeartbeating(
      () => {
        beats += 1;
        return Promise.resolve();
      },
      20,
      async () => {
        await sleep(210);
        return 'done';
      },
    );
    expect(out).toBe('done');
    expect(beats).toBeGreaterThanOrEqual(5);
    const after = beats;
    await sleep(80);
    expect(beats).toBe(after);
  });

  it('never has two beats in flight, and waits for the last one before returning', async () => {
    let inFlight = 0;
    let most = 0;
    let finished = 0;
    await whileHeartbeating(
      async () => {
        most = Math.max(most, ++inFlight);
        await sleep(50);
        inFlight -= 1;
        finished += 1;
      },
      10,
      () => sleep(120),
    );
    expect(most).toBe(1);
    expect(inFlight).toBe(0);
    expect(finished).toBeGreaterThanOrEqual(2);
  });

  it('a failed beat (the group rebalancing) does not fail the work; the work failing still stops the beats', async () => {
    let beats = 0;
    await expect(
      whileHeartbeating(
        () => {
          beats += 1;
          return Promise.reject(new Error('REBALANCE_IN_PROGRESS'));
        },
        10,
        async () => {
          await sleep(60);
          throw new Error('handler failed');
        },
      ),
    ).rejects.toThrow('handler failed');
    expect(beats).toBeGreaterThanOrEqual(2);
    const after = beats;
    await sleep(40);
    expect(beats).toBe(after);
  });
});
