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
  const main = async (): Promise<void> => {
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
    const stop = async () => {
      await app.close();
      await infra.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop());
    process.once('SIGTERM', () => void stop());
  };
  main().catch((e: unknown) => {
    console.error(e instanceof ConfigError ? e.message : e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  });
}
