import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type INestApplication, Logger, Module } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { AlertsModule } from '@regstream/alerts';
import { ApiModule } from '@regstream/api';
import type { RegstreamConfig } from '@regstream/config';
import { DEFAULT_CORPUS_DIR, loadCorpus } from '@regstream/corpus';
import { DashboardModule } from '@regstream/dashboard';
import { newEventJsonSchema } from '@regstream/domain';
import { ApiKeyGuard, setupHttp } from '@regstream/http';
import { EventIngestor, IngestModule, RelayService } from '@regstream/ingest';
import { ProjectorModule } from '@regstream/projector';
import { createInfrastructure, type Infrastructure, RuntimeModule } from '@regstream/runtime';

export interface Started {
  readonly app: INestApplication;
  readonly infra: Infrastructure;
  readonly url: string;
  readonly adminKeyFile: string;
  readonly demoKey: string;
  readonly corpus: { files: number; events: number; written: number };
}

/** First start creates an admin key (kept in the data folder, owner-only) and a read-only demo key. */
async function ensureKeys(infra: Infrastructure): Promise<{ adminKeyFile: string; demoKey: string }> {
  const adminKeyFile = join(infra.dataDir, 'admin.key');
  const demoKeyFile = join(infra.dataDir, 'demo.key');
  if ((await infra.apiKeys.count()) === 0 || !existsSync(adminKeyFile)) {
    const admin = await infra.apiKeys.issue('admin', ['admin'], 'created on first start');
    writeFileSync(adminKeyFile, `${admin.secret}\n`, { mode: 0o600 });
    const demo = await infra.apiKeys.issue('demo', ['read'], 'read-only demo key');
    writeFileSync(demoKeyFile, `${demo.secret}\n`, { mode: 0o600 });
  }
  return { adminKeyFile, demoKey: readFileSync(demoKeyFile, 'utf8').trim() };
}

/** Builds and starts the all-in-one server: ingest, relay, projector, api, alerts and dashboard in one process. */
export async function startServer(config: RegstreamConfig, opts: { port?: number; importCorpus?: boolean; corpusDir?: string } = {}): Promise<Started> {
  const logger = new Logger('regstream');
  const infra = await createInfrastructure(config);

  @Module({
    imports: [RuntimeModule.forRoot(infra, 'server'), IngestModule.register({ relay: true }), ProjectorModule, ApiModule, AlertsModule, DashboardModule],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  })
  class ServerModule {}

  const app = await NestFactory.create(ServerModule, { bodyParser: false, logger: ['error', 'warn'] });
  setupHttp(app, { title: 'regstream', schemas: { NewEvent: newEventJsonSchema() as Record<string, unknown> } });
  const keys = await ensureKeys(infra);

  let corpus = { files: 0, events: 0, written: 0 };
  if (opts.importCorpus ?? config.REGSTREAM_IMPORT_CORPUS) {
    const loaded = loadCorpus(opts.corpusDir ?? config.REGSTREAM_CORPUS_DIR ?? DEFAULT_CORPUS_DIR);
    const relay = app.get(RelayService);
    const ingestor = new EventIngestor(infra.store, () => new Date(), undefined, () => relay.wake());
    let written = 0;
    for (let i = 0; i < loaded.events.length; i += 500) {
      written += (await ingestor.ingestEnvelopes(loaded.events.slice(i, i + 500))).written;
    }
    corpus = { files: loaded.files.length, events: loaded.events.length, written };
    logger.log(written ? `imported ${written} corpus events from ${loaded.files.length} files` : 'corpus already imported; nothing written');
  }

  await app.listen(opts.port ?? config.PORT, config.HOST);
  const address = (app.getHttpServer() as import('node:http').Server).address();
  const port = address === null || typeof address === 'string' ? config.PORT : address.port;
  return { app, infra, url: `http://${config.HOST}:${port}`, ...keys, corpus };
}
