import { jobQueueContract } from '../testing';
import { InlineJobQueue } from './inline';
import { backoffDelay } from './types';

jobQueueContract('inline', (names) => Promise.resolve(new InlineJobQueue(names)));

describe('backoffDelay', () => {
  it('grows exponentially with full jitter inside [exp/2, exp] and is capped', () => {
    expect(backoffDelay(1, 1000, () => 0)).toBe(500);
    expect(backoffDelay(1, 1000, () => 1)).toBe(1000);
    expect(backoffDelay(4, 1000, () => 1)).toBe(8000);
    expect(backoffDelay(40, 1000, () => 1)).toBe(6 * 3600_000);
  });
});
