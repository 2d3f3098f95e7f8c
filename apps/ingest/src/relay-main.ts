import { loadConfig } from '@regstream/config';
import { OutboxRelay } from '@regstream/messaging';
import { createInfrastructure } from '@regstream/runtime';

/**
 * The outbox relay as a process of its own (distributed mode). It can be killed at any moment: events
 * leave the outbox only once the broker has them, so a restart resumes where it stopped.
 */
async function main(): Promise<void> {
  const infra = await createInfrastructure(loadConfig());
  const relay = new OutboxRelay(infra.store, infra.publisher, {
    idleMs: 20,
    onError: (e) => console.error(`relay: ${e instanceof Error ? e.message : String(e)}`),
  });
  relay.start();
  console.log('regstream relay running');
  const stop = async () => {
    await relay.stop();
    await infra.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop());
  process.once('SIGINT', () => void stop());
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
