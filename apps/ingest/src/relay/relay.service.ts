import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { METRICS } from '@regstream/http';
import { OutboxRelay } from '@regstream/messaging';
import { INFRA, type Infrastructure } from '@regstream/runtime';
import { Counter, type Registry } from 'prom-client';

export const RELAY_ENABLED = Symbol('RELAY_ENABLED');

/** Runs the outbox relay in this process unless disabled (a separate relay process in distributed mode). */
@Injectable()
export class RelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OutboxRelay');
  readonly relay: OutboxRelay;

  constructor(
    @Inject(INFRA) infra: Infrastructure,
    @Inject(METRICS) metrics: Registry,
    @Inject(RELAY_ENABLED) private readonly enabled: boolean,
  ) {
    const relayed = new Counter({ name: 'regstream_relay_events_total', help: 'Events moved from the outbox to the distribution log', registers: [metrics] });
    const failures = new Counter({ name: 'regstream_relay_failures_total', help: 'Failed relay attempts (retried)', registers: [metrics] });
    this.relay = new OutboxRelay(infra.store, infra.publisher, {
      onRelayed: (events) => relayed.inc(events.length),
      onError: (e) => {
        failures.inc();
        this.logger.warn(`relay failed, retrying: ${e instanceof Error ? e.message : String(e)}`);
      },
    });
  }

  wake(): void {
    this.relay.wake();
  }

  onApplicationBootstrap(): void {
    if (this.enabled) this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
  }
}
