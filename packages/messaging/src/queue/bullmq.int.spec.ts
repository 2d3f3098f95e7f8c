import IORedis from 'ioredis';
import { jobQueueContract } from '../testing';
import { BullJobQueue } from './bullmq';

const url = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const connections: IORedis[] = [];
afterAll(async () => {
  await Promise.all(connections.map((c) => c.quit()));
});

jobQueueContract('bullmq on real Redis', (names) => {
  const conn = new IORedis(url, { maxRetriesPerRequest: null });
  connections.push(conn);
  return Promise.resolve(new BullJobQueue(`rs-test-${Date.now()}-${Math.random().toString(36).slice(2, 7)}`, conn, names));
});
