import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const REPO_ROOT = resolve(__dirname, '..', '..', '..');

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

/**
 * A Kafka broker of the test's own (fault tests never touch the shared one on 9092): another port,
 * another data folder, started and stopped through infra/kafka/kafka.sh.
 */
export class OwnKafka {
  private constructor(
    readonly port: number,
    readonly controllerPort: number,
    readonly dataDir: string,
  ) {}

  static async create(): Promise<OwnKafka> {
    const k = new OwnKafka(await freePort(), await freePort(), mkdtempSync(join(tmpdir(), 'rs-kafka-')));
    await k.start();
    return k;
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  private env(): NodeJS.ProcessEnv {
    return { ...process.env, KAFKA_PORT: String(this.port), KAFKA_CONTROLLER_PORT: String(this.controllerPort), KAFKA_DATA_DIR: this.dataDir, KAFKA_STOP_TIMEOUT: '10' };
  }

  async start(): Promise<void> {
    await run('bash', [join(REPO_ROOT, 'infra/kafka/kafka.sh'), 'start'], { env: this.env(), timeout: 120_000 });
  }

  async stop(): Promise<void> {
    await run('bash', [join(REPO_ROOT, 'infra/kafka/kafka.sh'), 'stop'], { env: this.env(), timeout: 60_000 });
  }

  /** Hard crash: SIGKILL the broker, as `kill -9` would. */
  kill9(): void {
    const pid = Number(readFileSync(join(this.dataDir, 'kafka.pid'), 'utf8').trim());
    if (pid > 1) process.kill(pid, 'SIGKILL');
  }

  async destroy(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.dataDir, { recursive: true, force: true });
    }
  }
}
