import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import { ConfigError, loadConfig, type RegstreamConfig } from '@regstream/config';
import { ApiKeyGuard, type HttpSetupOptions, setupHttp } from '@regstream/http';
import { createInfrastructure } from './infrastructure';
import { RuntimeModule } from './module';

export interface ServeOptions {
  /** The app's name: the runtime module's role and the title of its OpenAPI document. */
  readonly name: string;
  /** The app's feature modules, from the loaded configuration. */
  readonly imports: (config: RegstreamConfig) => (Type | DynamicModule)[];
  readonly schemas?: HttpSetupOptions['schemas'];
}

/**
 * Runs one app as a process of its own (distributed mode): configuration, infrastructure, the app's
 * modules behind the API-key guard, the shared HTTP setup on PORT, and a clean stop on SIGINT/SIGTERM.
 * The apps' `main.ts` differ only in their modules.
 */
export function serveApp(opts: ServeOptions): void {
  runProcess(async () => {
    const config = loadConfig();
    const infra = await createInfrastructure(config);
    @Module({
      imports: [RuntimeModule.forRoot(infra, opts.name), ...opts.imports(config)],
      providers: [{ provide: APP_GUARD, useClass: ApiKeyGuard }],
    })
    class App {}
    const app = await NestFactory.create(App, { bodyParser: false, bufferLogs: true });
    setupHttp(app, { title: `regstream ${opts.name}`, ...(opts.schemas ? { schemas: opts.schemas } : {}) });
    await app.listen(config.PORT, config.HOST);
    console.log(`regstream ${opts.name} (${config.mode} mode) listening on http://${config.HOST}:${config.PORT}`);
    return async () => {
      await app.close();
      await infra.close();
    };
  });
}

/**
 * A process's life: `start` brings it up and returns how to stop it, which runs on SIGINT or SIGTERM
 * before the process exits. A start that fails ends the process with status 1 and one message (a
 * configuration error's text alone, naming the setting).
 */
export function runProcess(start: () => Promise<() => Promise<void>>): void {
  start()
    .then((stop) => {
      const end = async () => {
        await stop();
        process.exit(0);
      };
      process.once('SIGINT', () => void end());
      process.once('SIGTERM', () => void end());
    })
    .catch((e: unknown) => {
      console.error(e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(1);
    });
}
