import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';

export const TEST_KAFKA_BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');

export function testKafka(clientId = 'regstream-test'): Kafka {
  return new Kafka({ clientId, brokers: TEST_KAFKA_BROKERS, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });
}

export function uniqueName(prefix: string): string {
  return `${prefix}.${Date.now().toString(36)}.${randomBytes(3).toString('hex')}`;
}

/** Creates topics explicitly and waits for their leaders: auto-creation on KRaft is unreliable with KafkaJS. */
export async function createTopic(kafka: Kafka, topic: string, numPartitions = 6): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}
