import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './processes';

const run = promisify(execFile);

function pgBin(name: string): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).sort().reverse() : [];
  for (const v of versions) {
    const p = join(base, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  return name;
}

/** Runs a PostgreSQL binary as the `postgres` user when we are root (PostgreSQL refuses to run as root). */
async function asPostgres(bin: string, args: string[]): Promise<void> {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot) await run('runuser', ['-u', 'postgres', '--', pgBin(bin), ...args], { timeout: 120_000 });
  else await run(pgBin(bin), args, { timeout: 120_000 });
}

/**
 * A PostgreSQL cluster of the test's own, made with initdb in a temporary folder on a free port, so fault
 * tests can stop it with `pg_ctl stop -m immediate` without touching the machine's shared server.
 */
export class OwnPostgres {
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async create(): Promise<OwnPostgres> {
    const dir = mkdtempSync(join(tmpdir(), 'rs-pg-'));
    chmodSync(dir, 0o777);
    const pg = new OwnPostgres(await freePort(), dir);
    if (process.getuid?.() === 0) await run('chown', ['postgres:postgres', dir]);
    await asPostgres('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
    await pg.start();
    return pg;
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  async start(): Promise<void> {
    await asPostgres('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'pg.log'),
      '-w',
      '-o',
      `-p ${this.port} -c listen_addresses=127.0.0.1 -k ${this.dir} -c fsync=off -c max_connections=50`,
      'start',
    ]);
  }

  /** The server log (pg_ctl -l), e.g. to see that a client vanished with a transaction open. */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'pg.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** The crash the issue asks for: no checkpoint, no clean shutdown. */
  async stopImmediate(): Promise<void> {
    await asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    try {
      await asPostgres('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Redis server of the test's own on a free port. Like the shared one it takes no snapshots by itself
 * (`--save ''`), so `kill9()` then `start()` is a restart that lost every key. `shutdown(true)` is a clean
 * restart that keeps the data: Redis writes its snapshot (dump.rdb in its own folder) and `start()` loads it
 * again, as a real server with persistence would; a later `kill9()` + `start()` then comes back with that
 * (by now stale) snapshot.
 */
export class OwnRedis {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  static async create(): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort(), mkdtempSync(join(tmpdir(), 'rs-redis-')));
    await r.start();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Whether a snapshot is there for the next start to load. */
  get hasSnapshot(): boolean {
    return existsSync(join(this.dir, 'dump.rdb'));
  }

  private ping(): Promise<boolean> {
    return new Promise<boolean>((res) => {
      const s = createConnection({ host: '127.0.0.1', port: this.port }, () => s.write('PING\r\n'));
      s.setTimeout(1000, () => s.destroy());
      s.on('data', (d: Buffer) => {
        s.end();
        // "-LOADING" while a snapshot is read: not ready yet.
        res(d.toString('utf8').startsWith('+PONG'));
      });
      s.on('error', () => res(false));
      s.on('close', () => res(false));
    });
  }

  async start(): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--dbfilename', 'dump.rdb'],
      { stdio: 'ignore' },
    );
    this.child = child;
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await this.ping()) return;
      if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
      if (Date.now() > deadline) throw new Error('redis did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  kill9(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }

  /** A clean stop: SHUTDOWN SAVE (the snapshot is kept for the next start) or SHUTDOWN NOSAVE. */
  async shutdown(save: boolean): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((res) => child.once('exit', () => res()));
    await new Promise<void>((res) => {
      const s = createConnection({ host: '127.0.0.1', port: this.port }, () => s.write(`SHUTDOWN ${save ? 'SAVE' : 'NOSAVE'}\r\n`));
      s.on('error', () => res());
      s.on('close', () => res());
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = null;
  }

  destroy(): Promise<void> {
    this.kill9();
    rmSync(this.dir, { recursive: true, force: true });
    return Promise.resolve();
  }
}

/**
 * A small TCP proxy for network faults between an app and Kafka or PostgreSQL (toxiproxy is not
 * available here): added latency, and dropping every open connection on demand.
 */
export class TcpProxy {
  latencyMs = 0;
  private refusing = false;
  private readonly sockets = new Set<Socket>();
  private server: Server | null = null;
  private constructor(
    readonly port: number,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static async create(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const proxy = new TcpProxy(await freePort(), targetHost, targetPort);
    const server = createServer((client) => proxy.accept(client));
    proxy.server = server;
    await new Promise<void>((res) => server.listen(proxy.port, '127.0.0.1', () => res()));
    return proxy;
  }

  private accept(client: Socket): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: this.targetHost, port: this.targetPort });
    this.sockets.add(client).add(upstream);
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk: Buffer) => {
        if (this.latencyMs > 0) setTimeout(() => to.write(chunk), this.latencyMs);
        else to.write(chunk);
      });
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  }

  /** Cuts every open connection; with `refuse`, new ones are dropped too until `heal()`. */
  drop(refuse = false): void {
    this.refusing = refuse;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  heal(): void {
    this.refusing = false;
    this.latencyMs = 0;
  }

  close(): Promise<void> {
    this.drop();
    const server = this.server;
    return new Promise((res) => (server ? server.close(() => res()) : res()));
  }
}
