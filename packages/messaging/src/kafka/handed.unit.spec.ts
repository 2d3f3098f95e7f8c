import { HandedOffsets } from './kafka';

describe('HandedOffsets (the checkpoint a Kafka source goes by between rejoins)', () => {
  it('knows nothing of a partition until its handler accepted a batch, so the stored checkpoint is read first', () => {
    const h = new HandedOffsets();
    expect(h.get('0')).toBeUndefined();
    h.accepted('0', '41');
    expect(h.get('0')).toBe('41');
    expect(h.get('1')).toBeUndefined();
  });

  it('never moves back (offsets compare as integers, not strings)', () => {
    const h = new HandedOffsets();
    h.accepted('0', '100');
    h.accepted('0', '99');
    expect(h.get('0')).toBe('100');
    h.accepted('0', '1000');
    expect(h.get('0')).toBe('1000');
  });

  it('forgets everything at a rejoin, when partitions may have moved to and from other members', () => {
    const h = new HandedOffsets();
    h.accepted('0', '5');
    h.accepted('3', '7');
    h.clear();
    expect([h.get('0'), h.get('3')]).toEqual([undefined, undefined]);
  });
});
