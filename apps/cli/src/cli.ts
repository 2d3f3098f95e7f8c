import { type CommandSpec } from './args';
import { checksumCommand, checksumSpec, replayCommand, replaySpec } from './commands/replay';
import { exportCommand, exportSpec } from './commands/export';
import { importCommand, importSpec } from './commands/import';
import { queryCommand, querySpec } from './commands/query';
import { reportCommand, reportSpec } from './commands/report';
import { CliError, type Io } from './io';

type Command = (argv: readonly string[], io: Io) => Promise<number>;

export const COMMANDS: readonly { readonly spec: CommandSpec; readonly run: Command }[] = [
  { spec: importSpec, run: importCommand },
  { spec: exportSpec, run: exportCommand },
  { spec: replaySpec, run: replayCommand },
  { spec: checksumSpec, run: checksumCommand },
  { spec: querySpec, run: queryCommand },
  { spec: reportSpec, run: reportCommand },
];

export const VERSION = '0.1.0';

export function mainHelp(): string {
  return [
    'regstream — the event-sourced tracker of AI regulation, from the command line',
    '',
    'usage: regstream <command> [options]',
    '',
    'commands:',
    ...COMMANDS.map((c) => `  ${c.spec.name.padEnd(10)} ${c.spec.summary}`),
    '',
    "Run 'regstream <command> --help' for a command's options.",
    '',
    'The store is the one the server uses: embedded SQLite in REGSTREAM_DATA_DIR (default ./.regstream),',
    'or PostgreSQL when DATABASE_URL, KAFKA_BROKERS and REDIS_URL are set.',
    '',
  ].join('\n');
}

/** Runs one command line; returns the exit code. Errors are printed, never thrown. */
export async function run(argv: readonly string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0]) return run([rest[0], '--help'], io);
    io.stdout.write(mainHelp());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.spec.name === name);
  if (!cmd) {
    io.stderr.write(`regstream: unknown command '${name}'\nrun 'regstream --help' for the list\n`);
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof CliError) {
      io.stderr.write(`regstream ${name}: ${e.message}\n`);
      return e.exitCode;
    }
    io.stderr.write(`regstream ${name}: ${e instanceof Error ? (io.env['REGSTREAM_DEBUG'] ? (e.stack ?? e.message) : e.message) : String(e)}\n`);
    return 1;
  }
}
