import { type PartitionerArgs, Partitioners } from 'kafkajs';
import { rememberingPartitioner } from './kafka';

const metadata = (n: number): PartitionerArgs['partitionMetadata'] =>
  Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: partitionId === 1 ? -1 : 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

describe('rememberingPartitioner', () => {
  it("puts every key where KafkaJS's default partitioner does, for any partition count, however often asked", () => {
    const remembering = rememberingPartitioner();
    const reference = Partitioners.DefaultPartitioner();
    for (const n of [6, 12, 6, 1]) {
      const partitionMetadata = metadata(n);
      for (let round = 0; round < 3; round++) {
        for (let i = 0; i < 500; i++) {
          const args = { topic: 't', partitionMetadata, message: { key: `instrument-${i}`, value: 'x' } };
          expect(remembering(args)).toBe(reference(args));
        }
      }
    }
  });

  it('leaves an explicit partition as it is', () => {
    const args = { topic: 't', partitionMetadata: metadata(6), message: { key: 'instrument-a', value: 'x', partition: 4 } };
    expect(rememberingPartitioner()(args)).toBe(4);
  });
});
