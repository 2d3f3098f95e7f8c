/** Where a command writes, and what it knows about its terminal; tests pass their own. */
export interface Out {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface Io {
  readonly stdout: Out;
  readonly stderr: Out;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Wrong arguments: exit code 2, with a pointer to --help. */
export class UsageError extends CliError {
  constructor(message: string, command?: string) {
    super(`${message}\nrun 'regstream ${command ? `${command} ` : ''}--help' for usage`, 2);
    this.name = 'UsageError';
  }
}

export function interactive(io: Io): boolean {
  const ci = io.env['CI'];
  return Boolean(io.stderr.isTTY) && (ci === undefined || ci === '' || ci === 'false' || ci === '0');
}

export interface Progress {
  tick(done: number, total?: number): void;
  done(message?: string): void;
}

/**
 * A progress bar on stderr when a person is watching (a TTY, not CI); silent otherwise so pipes
 * and logs stay clean.
 */
export function progress(io: Io, label: string, total: number): Progress {
  if (!interactive(io)) return { tick: () => undefined, done: () => undefined };
  let last = 0;
  let max = total;
  const draw = (done: number) => {
    const width = Math.max(10, Math.min(40, (io.stderr.columns ?? 80) - label.length - 30));
    const share = max > 0 ? Math.min(1, done / max) : 0;
    const full = Math.round(share * width);
    io.stderr.write(`\r${label} [${'█'.repeat(full)}${'░'.repeat(width - full)}] ${done}/${max} ${Math.round(share * 100)}%\x1b[K`);
  };
  draw(0);
  return {
    tick(done, t) {
      if (t !== undefined) max = t;
      const now = Date.now();
      if (now - last < 50 && done < max) return;
      last = now;
      draw(done);
    },
    done(message) {
      draw(max);
      io.stderr.write(`\r\x1b[K${message ? `${message}\n` : ''}`);
    },
  };
}
