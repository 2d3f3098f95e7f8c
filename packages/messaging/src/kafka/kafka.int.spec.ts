import { createTopic, testKafka, uniqueName } from '@regstream/test-helpers';
import { busContract } from '../testing';
import { KafkaEventSource, KafkaPublisher } from './kafka';

busContract(
  'kafka (real broker)',
  async () => {
    const kafka = testKafka();
    const topic = uniqueName('rs-test');
    await createTopic(kafka, topic, 6);
    const publisher = new KafkaPublisher(kafka, topic);
    return { publisher, source: () => new KafkaEventSource(kafka, topic), close: () => publisher.close() };
  },
  40000,
);
