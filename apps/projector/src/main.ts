import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig } from '@regstream/config';
import { ApiKeyGuard, setupHttp } from '@regstream/http';
import { createInfrastructure, RuntimeModule } from '@regstream/runtime';
import { ProjectorModule } from './projector.module';

/**
 * One projector process (distributed mode). Start several: they join one consumer group
 * (`projector.<topic>`, or REGSTREAM_PROJECTOR_GROUP_ID) and share the topic's partitions; each
 * partition's checkpoint commits with its read-model changes.
 * Serves health, metrics and the operator endpoints on PORT.
 */
async function main(): Promise<void> {
  const config = loadConfig();
  const infra = await createInfrastructure(config);
  @Module({
    imports: [RuntimeModule.forRoot(infra, 'projector'), ProjectorModule],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  })
  class ProjectorApp {}
  const app = await NestFactory.create(ProjectorApp, { bodyParser: false, bufferLogs: true });
  setupHttp(app, { title: 'regstream projector' });
  await app.listen(config.PORT, config.HOST);
  console.log(`regstream projector (${config.mode} mode) listening on http://${config.HOST}:${config.PORT}`);
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
