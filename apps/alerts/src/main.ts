import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig } from '@regstream/config';
import { ApiKeyGuard, setupHttp } from '@regstream/http';
import { createInfrastructure, RuntimeModule } from '@regstream/runtime';
import { AlertsModule } from './alerts.module';
import { alertsOptionsFromEnv } from './options';

/**
 * The alerts service on its own (distributed mode): subscriptions API, consumer group 'alerts' and the
 * BullMQ delivery worker. REGSTREAM_ALERTS_CONSUMER=off or REGSTREAM_ALERTS_WORKER=off split the roles
 * across processes; several workers share the BullMQ queue.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const infra = await createInfrastructure(config);
  @Module({
    imports: [RuntimeModule.forRoot(infra, 'alerts'), AlertsModule.register(alertsOptionsFromEnv())],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  })
  class AlertsApp {}
  const app = await NestFactory.create(AlertsApp, { bodyParser: false, bufferLogs: true });
  setupHttp(app, { title: 'regstream alerts' });
  await app.listen(config.PORT, config.HOST);
  console.log(`regstream alerts listening on http://${config.HOST}:${config.PORT} (${config.mode} mode)`);
  const stop = async () => {
    await app.close();
    await infra.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e: unknown) => {
  console.error(e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
