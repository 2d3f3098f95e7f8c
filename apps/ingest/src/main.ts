import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@regstream/config';
import { newEventJsonSchema } from '@regstream/domain';
import { ApiKeyGuard, setupHttp } from '@regstream/http';
import { createInfrastructure, RuntimeModule } from '@regstream/runtime';
import { APP_GUARD } from '@nestjs/core';
import { IngestModule } from './ingest.module';

/** The ingest service on its own (distributed mode). REGSTREAM_RELAY=off leaves the relay to another process. */
async function main(): Promise<void> {
  const config = loadConfig();
  const infra = await createInfrastructure(config);
  @Module({
    imports: [RuntimeModule.forRoot(infra, 'ingest'), IngestModule.register({ relay: config.REGSTREAM_RELAY === 'on' })],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  })
  class IngestApp {}
  const app = await NestFactory.create(IngestApp, { bodyParser: false, bufferLogs: true });
  setupHttp(app, { title: 'regstream ingest', schemas: { NewEvent: newEventJsonSchema() as Record<string, unknown> } });
  await app.listen(config.PORT, config.HOST);
  console.log(`regstream ingest listening on http://${config.HOST}:${config.PORT}`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
