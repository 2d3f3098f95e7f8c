#!/usr/bin/env node
import 'reflect-metadata';
import { ConfigError, loadConfig } from '@regstream/config';
import { startServer } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfig();
  const s = await startServer(config);
  const lines = [
    `regstream is running (${config.mode} mode${config.mode === 'embedded' ? `, data in ${s.infra.dataDir}` : ''})`,
    `  dashboard      ${s.url}/#key=${s.demoKey}   (signs in with the read-only demo key)`,
    `  API docs       ${s.url}/docs`,
    `  admin key      saved in ${s.adminKeyFile} (owner-only; never printed)`,
    `  demo key       ${s.demoKey}   (read-only)`,
  ];
  console.log(lines.join('\n'));
  const stop = async () => {
    await s.app.close();
    await s.infra.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((e: unknown) => {
  console.error(e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
