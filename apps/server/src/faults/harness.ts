import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, OwnKafka, OwnPostgres, OwnRedis, REPO_ROOT, TcpProxy, waitFor } from '@regstream/test-helpers';
import { Client } from 'pg';

/**
 * A private stack for fault tests: a PostgreSQL cluster made with initdb, a Redis server and a Kafka
 * broker of its own, and the apps as real child processes. Nothing here touches the machine's shared
 * services, and `destroy()` cleans up even after a failure.
 */
export class FaultStack {
  readonly dir = mkdtempSync(join(tmpdir(), 'rs-fault-'));
  readonly apps: AppProcess[] = [];
  pgProxy: TcpProxy | null = null;
  /** Further proxies (a link of one app's own), closed by destroy(). */
  private readonly links: TcpProxy[] = [];

  private constructor(
    readonly pg: OwnPostgres,
    readonly redis: OwnRedis,
    readonly kafka: OwnKafka,
  ) {}

  static async create(opts: { proxyPostgres?: boolean } = {}): Promise<FaultStack> {
    const made = await Promise.allSettled([OwnPostgres.create(), OwnRedis.create(), OwnKafka.create()] as const);
    const [pg, redis, kafka] = made;
    if (pg.status === 'rejected' || redis.status === 'rejected' || kafka.status === 'rejected') {
      // Whatever did start is stopped again before the failure is reported.
      await Promise.allSettled(made.flatMap((m) => (m.status === 'fulfilled' ? [m.value.destroy()] : [])));
      throw (made.find((m) => m.status === 'rejected') as PromiseRejectedResult).reason;
    }
    const stack = new FaultStack(pg.value, redis.value, kafka.value);
    try {
      if (opts.proxyPostgres) stack.pgProxy = await TcpProxy.create('127.0.0.1', pg.value.port);
      const c = new Client({ connectionString: pg.value.url });
      await c.connect();
      try {
        await c.query('CREATE DATABASE regstream');
      } finally {
        await c.end();
      }
    } catch (e) {
      await stack.destroy();
      throw e;
    }
    return stack;
  }

  /** The database URL the apps use (through the proxy when there is one). */
  get databaseUrl(): string {
    const port = this.pgProxy?.port ?? this.pg.port;
    return `postgres://postgres@127.0.0.1:${port}/regstream`;
  }

  get directDatabaseUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.pg.port}/regstream`;
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      KAFKA_BROKERS: this.kafka.brokers.join(','),
      REDIS_URL: this.redis.url,
      REGSTREAM_DATA_DIR: this.dir,
      REGSTREAM_RATE_LIMIT_PER_MINUTE: '10000000',
      REGSTREAM_IMPORT_CORPUS: 'false',
      ...extra,
    };
  }

  /** A TCP proxy of its own to the stack's PostgreSQL (one app's link, with its own latency or drops). */
  async postgresLink(): Promise<{ proxy: TcpProxy; databaseUrl: string }> {
    const proxy = await TcpProxy.create('127.0.0.1', this.pg.port);
    this.links.push(proxy);
    return { proxy, databaseUrl: `postgres://postgres@127.0.0.1:${proxy.port}/regstream` };
  }

  async spawn(app: 'ingest' | 'relay' | 'projector' | 'api' | 'alerts' | 'server', extra: Record<string, string> = {}): Promise<AppProcess> {
    const entry = app === 'relay' ? 'apps/ingest/dist/relay-main.js' : `apps/${app}/dist/main.js`;
    const port = await freePort();
    const p = new AppProcess(app, join(REPO_ROOT, entry), this.env({ PORT: String(port), ...extra }), port, join(this.dir, `${app}-${this.apps.length}.log`));
    this.apps.push(p);
    await p.start();
    return p;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const c = new Client({ connectionString: this.directDatabaseUrl });
    await c.connect();
    try {
      return (await c.query(sql, params)).rows as T[];
    } finally {
      await c.end();
    }
  }

  /** The last lines of every app's log, to print when a test fails. */
  logTails(lines = 40): string {
    return this.apps.map((a) => `--- ${a.name} (${a.logFile})\n${a.log().split('\n').filter((l) => !/RouterExplorer|RoutesResolver|InstanceLoader/.test(l)).slice(-lines).join('\n')}`).join('\n');
  }

  async destroy(): Promise<void> {
    for (const a of this.apps) a.kill9();
    await Promise.allSettled([this.pgProxy?.close(), ...this.links.map((l) => l.close()), this.pg.destroy(), this.redis.destroy(), this.kafka.destroy()]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class AppProcess {
  private child: ChildProcess | null = null;

  constructor(
    readonly name: string,
    private readonly entry: string,
    private readonly env: Record<string, string>,
    readonly port: number,
    readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  async start(): Promise<void> {
    const fd = openSync(this.logFile, 'a');
    this.child = spawn(process.execPath, [this.entry], { env: { ...process.env, ...this.env }, stdio: ['ignore', fd, fd] });
    closeSync(fd);
    await waitFor(
      async () => {
        if (this.child?.exitCode !== null && this.child?.exitCode !== undefined) throw new Error(`${this.name} exited: ${this.log().slice(-2000)}`);
        if (this.name === 'relay' || this.name === 'projector' || this.name === 'alerts') return /running|listening/.test(this.log()) ? true : undefined;
        return (await httpGet(this.port, '/healthz')) === 200 ? true : undefined;
      },
      60_000,
      100,
    );
  }

  log(): string {
    try {
      return readFileSync(this.logFile, 'utf8');
    } catch {
      return '';
    }
  }

  kill9(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }
}

export function httpGet(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function postJson(port: number, path: string, body: unknown, key: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request(
      { host: '127.0.0.1', port, path, method: 'POST', timeout: 10_000, headers: { 'content-type': 'application/json', 'content-length': data.length, authorization: `Bearer ${key}` } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', () => resolve({ status: 0, body: '' }));
    req.on('timeout', () => req.destroy());
    req.end(data);
  });
}
