import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const PROFILE_DIR = join(REPO_ROOT, 'bench', 'profiles');

/** Peak and current resident set of a process, from /proc/<pid>/status (MiB). */
export function memoryOf(pid: number): { hwmMb: number; rssMb: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? NaN);
    return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
  } catch {
    return { hwmMb: Number.NaN, rssMb: Number.NaN };
  }
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"), so each measurement gets its own peak. */
export function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not permitted (not root or another kernel): peaks then run from process start, which only overstates.
  }
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface StartOptions {
  readonly env: Readonly<Record<string, string>>;
  /** Poll this URL until it answers 2xx. */
  readonly readyUrl?: string;
  /** Or wait for this text on stdout/stderr. */
  readonly readyText?: string;
  readonly timeoutMs?: number;
  /** Run under --cpu-prof; the profile is written to bench/profiles on exit. */
  readonly cpuProf?: boolean;
  readonly maxOldSpaceMb?: number;
}

/** Every child this run started and that is still alive: killed if the bench itself ends abruptly. */
const LIVE_CHILDREN = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of LIVE_CHILDREN) if (c.exitCode === null) c.kill('SIGKILL');
});

/** One regstream app as a real child process (`node apps/<app>/dist/<main>.js`). */
export class AppProcess {
  private exited = false;
  private output = '';
  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString('utf8')).slice(-20_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    LIVE_CHILDREN.add(child);
    child.once('exit', () => {
      this.exited = true;
      LIVE_CHILDREN.delete(child);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get log(): string {
    return this.output;
  }

  static async start(name: string, script: string, opts: StartOptions): Promise<AppProcess> {
    const file = join(REPO_ROOT, script);
    if (!existsSync(file)) throw new Error(`${script} is not built (run the bench through npm run bench, which builds it)`);
    const args: string[] = [];
    if (opts.maxOldSpaceMb) args.push(`--max-old-space-size=${opts.maxOldSpaceMb}`);
    if (opts.cpuProf) {
      mkdirSync(PROFILE_DIR, { recursive: true });
      // A profile is written only on a clean exit: the preload turns SIGTERM into process.exit.
      args.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`, '-r', join(__dirname, 'exit-on-signal.js'));
    }
    const child = spawn(process.execPath, [...args, file], {
      cwd: REPO_ROOT,
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', NODE_ENV: 'production', REGSTREAM_LOG_LEVEL: 'warn', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p = new AppProcess(name, child);
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (;;) {
      if (p.exited) throw new Error(`${name} exited during start:\n${p.output.slice(-3000)}`);
      if (Date.now() > deadline) {
        await p.stop();
        throw new Error(`${name} did not become ready:\n${p.output.slice(-3000)}`);
      }
      if (opts.readyText && p.output.includes(opts.readyText)) return p;
      if (opts.readyUrl) {
        const ok = await fetch(opts.readyUrl, { signal: AbortSignal.timeout(1000) })
          .then((r) => r.ok)
          .catch(() => false);
        if (ok) return p;
      }
      await sleep(100);
    }
  }

  memory(): { hwmMb: number; rssMb: number } {
    return memoryOf(this.pid);
  }

  resetPeak(): void {
    resetPeak(this.pid);
  }

  cpuSeconds(): number {
    return cpuSecondsOf(this.pid);
  }

  /** SIGTERM, then SIGKILL after a grace period. Only ever this child's own pid. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.exited || this.child.exitCode !== null) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (!this.exited) this.child.kill('SIGKILL');
    }, graceMs);
    await done;
    clearTimeout(timer);
  }
}

/** Runs a script to completion (a batch job such as a rebuild); its output comes back whole. */
export function runToExit(name: string, script: string, opts: { env: Readonly<Record<string, string>>; cpuProf?: boolean; timeoutMs?: number; maxOldSpaceMb?: number }): Promise<{ code: number; output: string }> {
  const args: string[] = opts.maxOldSpaceMb ? [`--max-old-space-size=${opts.maxOldSpaceMb}`] : [];
  if (opts.cpuProf) {
    mkdirSync(PROFILE_DIR, { recursive: true });
    args.push('--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`);
  }
  const child = spawn(process.execPath, [...args, join(REPO_ROOT, script)], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', NODE_ENV: 'production', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (b: Buffer) => {
    output = (output + b.toString('utf8')).slice(-50_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  LIVE_CHILDREN.add(child);
  child.once('exit', () => LIVE_CHILDREN.delete(child));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 3_600_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, output });
    });
  });
}
