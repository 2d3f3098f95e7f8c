import { loadConfig } from '@regstream/config';
import { OUTBOX_CHANNEL, OutboxListener, OutboxRelay } from '@regstream/messaging';
import { createInfrastructure, runProcess } from '@regstream/runtime';

/**
 * The outbox relay as a process of its own (distributed mode). It can be killed at any moment: events
 * leave the outbox only once the broker has them, so a restart resumes where it stopped.
 *
 * On PostgreSQL it LISTENs on `regstream_outbox`, which the store notifies after each append, and
 * moves the rows at once; it then polls only every REGSTREAM_RELAY_POLL_MS, for a lost notification.
 * Until notifications are seen to announce rows (or when a poll finds rows nobody announced, e.g. an
 * ingest that does not notify), it polls every 20 ms as before. While appends keep coming, its batches
 * are at least REGSTREAM_RELAY_COALESCE_MS apart, so a busy ingest is not relayed one append at a time.
 */
runProcess(async () => {
  const config = loadConfig();
  const infra = await createInfrastructure(config);
  const relay = new OutboxRelay(infra.store, infra.publisher, {
    idleMs: 20,
    notifiedIdleMs: config.REGSTREAM_RELAY_POLL_MS,
    coalesceMs: config.REGSTREAM_RELAY_COALESCE_MS,
    batchSize: config.REGSTREAM_RELAY_BATCH_SIZE,
    onError: (e) => console.error(`relay: ${e instanceof Error ? e.message : String(e)}`),
  });
  const listener = config.DATABASE_URL
    ? new OutboxListener(
        {
          connectionString: config.DATABASE_URL,
          onError: (e) => console.error(`relay: LISTEN ${OUTBOX_CHANNEL} failed, reconnecting (polling meanwhile): ${e instanceof Error ? e.message : String(e)}`),
        },
        () => relay.wake(),
      )
    : null;
  // A failure here is only logged: the first publish connects again, with the relay's backoff.
  await infra.publisher.connect?.().catch((e: unknown) => console.error(`relay: connecting to Kafka failed, retrying on the first batch: ${e instanceof Error ? e.message : String(e)}`));
  relay.start();
  await listener?.start();
  console.log(`regstream relay running${listener?.listening ? ` (LISTEN ${OUTBOX_CHANNEL})` : ''}`);
  return async () => {
    await listener?.stop();
    await relay.stop();
    await infra.close();
  };
});
