import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig } from '@regstream/config';
import { ApiKeyGuard, setupHttp } from '@regstream/http';
import { createInfrastructure, RuntimeModule } from '@regstream/runtime';
import { ApiModule } from './api.module';

/**
 * The read API as a process of its own (distributed mode): timeline, instruments, stances,
 * divergence and the live stream over the read models the projectors keep. Start as many as the
 * load needs; they share nothing but the database. Serves health and metrics on PORT too.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const infra = await createInfrastructure(config);
  @Module({
    imports: [RuntimeModule.forRoot(infra, 'api'), ApiModule],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  })
  class ApiApp {}
  const app = await NestFactory.create(ApiApp, { bodyParser: false, bufferLogs: true });
  setupHttp(app, { title: 'regstream api' });
  await app.listen(config.PORT, config.HOST);
  console.log(`regstream api (${config.mode} mode) listening on http://${config.HOST}:${config.PORT}`);
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
