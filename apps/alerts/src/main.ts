import 'reflect-metadata';
import { serveApp } from '@regstream/runtime';
import { AlertsModule } from './alerts.module';
import { alertsOptionsFromEnv } from './options';

/**
 * The alerts service on its own (distributed mode): subscriptions API, consumer group 'alerts' and the
 * BullMQ delivery worker. REGSTREAM_ALERTS_CONSUMER=off or REGSTREAM_ALERTS_WORKER=off split the roles
 * across processes; several workers share the BullMQ queue.
 */
serveApp({ name: 'alerts', imports: () => [AlertsModule.register(alertsOptionsFromEnv())] });
