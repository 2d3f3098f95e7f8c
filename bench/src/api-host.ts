import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ApiModule } from '@regstream/api';
import { loadConfig } from '@regstream/config';
import { ApiKeyGuard, setupHttp } from '@regstream/http';
import { createInfrastructure, RuntimeModule } from '@regstream/runtime';

/**
 * The read API as a process of its own, composed exactly as the other apps' main.ts do (RuntimeModule,
 * the app's module, the API-key guard, setupHttp). The bench runs apps/api/dist/main.js when the API app
 * has one, and this otherwise.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const infra = await createInfrastructure(config);
  class ApiApp {}
  Module({ imports: [RuntimeModule.forRoot(infra, 'api'), ApiModule], providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }] })(ApiApp);
  const app = await NestFactory.create(ApiApp, { bodyParser: false, bufferLogs: true });
  setupHttp(app, { title: 'regstream api (bench host)' });
  await app.listen(config.PORT, config.HOST);
  console.log(`regstream api listening on http://${config.HOST}:${config.PORT}`);
  const stop = async () => {
    await app.close();
    await infra.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
