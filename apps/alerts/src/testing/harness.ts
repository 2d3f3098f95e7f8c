import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type INestApplication, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { loadConfig } from '@regstream/config';
import { type AnyEnvelope, type EventData, type EventType, expectedSubject } from '@regstream/domain';
import { createDataSource, PostgresEventStore } from '@regstream/event-store';
import { ApiKeyGuard, ApiKeyService, InMemoryRateLimiter, setupHttp } from '@regstream/http';
import { type EventSource, InProcessBus, type JobQueue, OutboxRelay, type Publisher } from '@regstream/messaging';
import type { Kafka } from 'kafkajs';
import { allMigrations, createInfrastructure, type Infrastructure, RuntimeModule } from '@regstream/runtime';
import type IORedis from 'ioredis';
import type { AddressInfo } from 'node:net';
import { AlertsModule } from '../alerts.module';
import { DeliveryService } from '../deliveries/delivery.service';
import { AlertsConsumer } from '../matching/consumer.service';
import { ALERTS_QUEUE, type AlertsOptions } from '../options';
import { AlertsRepository } from '../repository';

/** A clock that runs with real time from a chosen instant. */
export class TestClock {
  offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() + this.offsetMs);
  setNow(iso: string): void {
    this.offsetMs = Date.parse(iso) - Date.now();
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
}

/** Embedded mode as the server builds it: SQLite file, in-process bus, no Redis (inline queue). */
export async function embeddedInfra(allowlist = '127.0.0.1'): Promise<{ infra: Infrastructure; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-alerts-'));
  const infra = await createInfrastructure(loadConfig({ REGSTREAM_DATA_DIR: dir, REGSTREAM_WEBHOOK_ALLOWLIST: allowlist, REGSTREAM_IMPORT_CORPUS: 'false' }));
  return {
    infra,
    cleanup: async () => {
      await infra.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PostgreSQL store and a given Redis connection (BullMQ), with the in-process bus as the log. */
export async function postgresInfra(
  url: string,
  redis: IORedis | null,
  allowlist = '127.0.0.1',
  log?: { publisher: Publisher; source: () => EventSource; kafka: Kafka },
): Promise<Infrastructure> {
  const dataSource = createDataSource({ kind: 'postgres', url }, { migrations: allMigrations('postgres') });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  const store = new PostgresEventStore(dataSource);
  const bus = new InProcessBus(6);
  const config = loadConfig({ REGSTREAM_WEBHOOK_ALLOWLIST: allowlist, REGSTREAM_DATA_DIR: join(tmpdir(), 'rs-alerts-pg') });
  return {
    config,
    dataSource,
    store,
    publisher: log?.publisher ?? bus,
    source: log?.source ?? (() => bus.source()),
    bus: log ? null : bus,
    kafka: log?.kafka ?? null,
    redis,
    apiKeys: new ApiKeyService(dataSource),
    rateLimiter: new InMemoryRateLimiter(100_000),
    readiness: [],
    dataDir: config.REGSTREAM_DATA_DIR,
    close: async () => {
      await bus.close();
      await log?.publisher.close();
      await store.close();
    },
  };
}

export function event<T extends EventType>(type: T, data: EventData<T>, at: { validtime: string; knowntime?: string; id?: string; subject?: string }): AnyEnvelope {
  return {
    specversion: '1.0',
    id: at.id ?? randomUUID(),
    source: '/test',
    type,
    schemaversion: 1,
    subject: at.subject ?? expectedSubject(type, data) ?? 'misc',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    validtime: at.validtime,
    knowntime: at.knowntime ?? at.validtime,
    data,
  } as AnyEnvelope;
}

export function stance(jurisdiction: string, dimension: string, value: number | string | string[], validtime = '2024-01-01', id?: string): AnyEnvelope {
  return event(
    'StanceCoded',
    { jurisdiction, codebookVersion: '1.0.0', dimension, value, provisions: [`${jurisdiction.toLowerCase()}-act:Art. 1`], evidence: 'test evidence', coder: 'test', confidence: 0.9 },
    { validtime, ...(id ? { id } : {}) },
  );
}

export function registered(instrumentId: string, jurisdiction: string): AnyEnvelope {
  return event(
    'InstrumentRegistered',
    { instrumentId, jurisdiction, kind: 'regulation', legalForce: 'binding', issuingBody: 'Test body', titles: { en: `Title of ${instrumentId}` }, identifiers: {} },
    { validtime: '2024-01-01' },
  );
}

export interface AlertsTestApp {
  readonly app: INestApplication;
  readonly url: string;
  readonly infra: Infrastructure;
  readonly clock: TestClock;
  readonly keys: { readonly alice: string; readonly bob: string; readonly reader: string };
  readonly deliveries: DeliveryService;
  readonly consumer: AlertsConsumer;
  readonly queue: JobQueue;
  readonly repo: AlertsRepository;
  /** Appends each event to its stream (recorded now by the test clock) and relays the outbox to the bus. */
  append(...events: AnyEnvelope[]): Promise<void>;
  close(): Promise<void>;
}

export async function startAlertsApp(infra: Infrastructure, options: Partial<AlertsOptions> = {}, clock = new TestClock()): Promise<AlertsTestApp> {
  @Module({
    imports: [RuntimeModule.forRoot(infra, 'alerts-test', clock.now), AlertsModule.register({ reconcileIntervalMs: 0, backoffBaseMs: 20, maxAttempts: 4, requestTimeoutMs: 3000, feedPollMs: 200, ...options })],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  })
  class TestApp {}
  const app = await NestFactory.create(TestApp, { bodyParser: false, logger: ['error'] });
  setupHttp(app, { title: 'alerts test' });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const relay = new OutboxRelay(infra.store, infra.publisher);
  const keys = {
    alice: (await infra.apiKeys.issue('alice', ['subscriptions:manage'])).secret,
    bob: (await infra.apiKeys.issue('bob', ['subscriptions:manage'])).secret,
    reader: (await infra.apiKeys.issue('reader', ['read'])).secret,
  };
  return {
    app,
    url: `http://127.0.0.1:${port}`,
    infra,
    clock,
    keys,
    deliveries: app.get(DeliveryService),
    consumer: app.get(AlertsConsumer),
    queue: app.get<JobQueue>(ALERTS_QUEUE),
    repo: app.get(AlertsRepository),
    append: async (...events) => {
      for (const e of events) await infra.store.append(e.subject, [e], 'any', { now: clock.now() });
      await relay.drain();
    },
    close: () => app.close(),
  };
}
