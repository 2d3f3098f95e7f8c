import { type DynamicModule, Inject, Injectable, Logger, Module, type OnApplicationBootstrap, type OnApplicationShutdown, type Provider } from '@nestjs/common';
import { BullJobQueue, InlineJobQueue, type JobQueue } from '@regstream/messaging';
import { INFRA, type Infrastructure } from '@regstream/runtime';
import { type AlertsDb, createAlertsDb } from './db';
import { DeliveriesController } from './deliveries/deliveries.controller';
import { DELIVER_JOB, DeliveryService, FeedHub } from './deliveries/delivery.service';
import { AlertsConsumer } from './matching/consumer.service';
import { KeptStateLoader } from './matching/kept-state';
import { Matcher } from './matching/matcher';
import { ALERTS_DB, ALERTS_OPTIONS, ALERTS_QUEUE, type AlertsOptions, alertsOptionsFromEnv, DEFAULT_ALERTS_OPTIONS } from './options';
import { AlertsRepository } from './repository';
import { SubscriptionsController } from './subscriptions/subscriptions.controller';
import { SubscriptionsService } from './subscriptions/subscriptions.service';
import { WebhookSender } from './webhooks/sender';
import { SsrfGuard } from './webhooks/ssrf';

/** Starts the worker, the reconciler and the consumer once the app is up; stops them in reverse. */
@Injectable()
export class AlertsLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Alerts');
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(ALERTS_OPTIONS) private readonly options: AlertsOptions,
    @Inject(ALERTS_QUEUE) private readonly queue: JobQueue,
    private readonly deliveries: DeliveryService,
    private readonly consumer: AlertsConsumer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.worker) {
      this.deliveries.registerHandler();
      await this.queue.start();
        await this.deliveries.reconcile();
      if (this.options.reconcileIntervalMs > 0) {
        this.timer = setInterval(() => {
          this.deliveries.reconcile().catch((e: unknown) => this.logger.warn(`reconcile failed: ${e instanceof Error ? e.message : String(e)}`));
        }, this.options.reconcileIntervalMs);
        this.timer.unref();
      }
    }
    if (this.options.consumer) await this.consumer.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.consumer.stop();
    await this.consumer.lock.run(() => Promise.resolve());
    await this.queue.close();
  }
}

function providers(overrides: Partial<AlertsOptions>): Provider[] {
  return [
    { provide: ALERTS_OPTIONS, useFactory: (): AlertsOptions => ({ ...DEFAULT_ALERTS_OPTIONS, ...alertsOptionsFromEnv(), ...overrides }) },
    { provide: ALERTS_DB, useFactory: (infra: Infrastructure) => createAlertsDb(infra.dataSource), inject: [INFRA] },
    { provide: AlertsRepository, useFactory: (db: AlertsDb) => new AlertsRepository(db), inject: [ALERTS_DB] },
    {
      provide: SsrfGuard,
      useFactory: (infra: Infrastructure, o: AlertsOptions) => new SsrfGuard([infra.config.REGSTREAM_WEBHOOK_ALLOWLIST, ...o.extraAllowlist]),
      inject: [INFRA, ALERTS_OPTIONS],
    },
    { provide: WebhookSender, useFactory: (g: SsrfGuard, o: AlertsOptions) => new WebhookSender(g, o.requestTimeoutMs), inject: [SsrfGuard, ALERTS_OPTIONS] },
    {
      // BullMQ when Redis is configured, the in-process queue otherwise (embedded mode, unit tests).
      provide: ALERTS_QUEUE,
      useFactory: (infra: Infrastructure, o: AlertsOptions): JobQueue =>
        infra.redis ? new BullJobQueue(o.queueName, infra.redis, [DELIVER_JOB], o.concurrency) : new InlineJobQueue([DELIVER_JOB], o.concurrency),
      inject: [INFRA, ALERTS_OPTIONS],
    },
    { provide: KeptStateLoader, useFactory: (r: AlertsRepository) => new KeptStateLoader(r), inject: [AlertsRepository] },
    { provide: Matcher, useFactory: (r: AlertsRepository, o: AlertsOptions) => new Matcher(r, () => o.maxAttempts), inject: [AlertsRepository, ALERTS_OPTIONS] },
    FeedHub,
    DeliveryService,
    AlertsConsumer,
    SubscriptionsService,
    AlertsLifecycle,
  ];
}

/** The alerts feature with explicit options (tests, the standalone process). */
@Module({})
export class AlertsFeatureModule {
  static register(overrides: Partial<AlertsOptions> = {}): DynamicModule {
    return {
      module: AlertsFeatureModule,
      controllers: [SubscriptionsController, DeliveriesController],
      providers: providers(overrides),
      exports: [DeliveryService, AlertsConsumer, SubscriptionsService, AlertsRepository, ALERTS_QUEUE, ALERTS_OPTIONS],
    };
  }
}

/**
 * Subscriptions, matching and signed webhook delivery. Imported as is by apps/server (defaults, with
 * REGSTREAM_ALERTS_* overrides); `AlertsModule.register(options)` for explicit options.
 */
@Module({ imports: [AlertsFeatureModule.register()], exports: [AlertsFeatureModule] })
export class AlertsModule {
  static register(overrides: Partial<AlertsOptions> = {}): DynamicModule {
    return AlertsFeatureModule.register(overrides);
  }
}
