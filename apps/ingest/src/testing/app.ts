import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { INestApplication } from '@nestjs/common';
import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { loadConfig } from '@regstream/config';
import { ApiKeyGuard, type Scope, setupHttp } from '@regstream/http';
import { createInfrastructure, type Infrastructure, RuntimeModule } from '@regstream/runtime';
import { IngestModule } from '../ingest.module';

export interface IngestTestApp {
  app: INestApplication;
  infra: Infrastructure;
  key(scopes: Scope[], principal?: string): Promise<string>;
  close(): Promise<void>;
}

/** The ingest module on a real store: SQLite in a temp folder, or PostgreSQL when `databaseUrl` is given. */
export async function ingestTestApp(env: Record<string, string> = {}, opts: { relay?: boolean } = {}): Promise<IngestTestApp> {
  const dir = mkdtempSync(join(tmpdir(), 'rs-ingest-'));
  const infra = await createInfrastructure(loadConfig({ REGSTREAM_DATA_DIR: dir, ...env }));
  @Module({
    imports: [RuntimeModule.forRoot(infra, 'ingest-test'), IngestModule.register({ relay: opts.relay ?? false })],
    providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
  })
  class TestModule {}
  const moduleRef = await Test.createTestingModule({ imports: [TestModule] }).compile();
  const app = moduleRef.createNestApplication({ bodyParser: false, logger: false });
  setupHttp(app, { title: 'test', bodyLimit: '1mb' });
  await app.init();
  return {
    app,
    infra,
    key: async (scopes, principal = 'tester') => (await infra.apiKeys.issue(principal, scopes)).secret,
    close: async () => {
      await app.close();
      await infra.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
