#!/usr/bin/env node
import 'reflect-metadata';
import { loadConfig } from '@regstream/config';
import { runProcess } from '@regstream/runtime';
import { startServer } from './bootstrap';

runProcess(async () => {
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
  return async () => {
    await s.app.close();
    await s.infra.close();
  };
});
