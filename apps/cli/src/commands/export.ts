import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { bool, type CommandSpec, dateOpt, helpText, listOpt, oneOf, parse, str } from '../args';
import { csv, ndjson } from '../format';
import { CliError, type Io, progress, UsageError } from '../io';
import { COLUMNS, type View, viewRows, VIEWS } from '../projection-rows';
import { readLog, withInfra } from '../store';
import { toLog } from '../views';

export const exportSpec: CommandSpec = {
  name: 'export',
  summary: 'write the events, or any read view, as NDJSON or CSV, as of a date',
  usage: `regstream export [${VIEWS.join('|')}] [--format ndjson|csv] [--as-of DATE] [--known-at DATE] [--out FILE]`,
  description: [
    'events        the log in commit order (re-importable with `regstream import`); with --known-at, as then known',
    '              (corrections applied, retractions removed); with --as-of, only events valid by that date',
    'timeline      every milestone, future ones flagged       instruments   registered instruments and status',
    'stances       the stance matrix valid at --as-of         divergence    pairwise indices with coverage',
    'series        the index over time up to --as-of          gap           compliance gaps (--from/--to or all pairs)',
    'applicability when each provision applies',
    '',
    'Dates: YYYY-MM-DD, an RFC 3339 date-time, or `today`. --as-of defaults to today; --known-at to everything known.',
  ].join('\n'),
  options: {
    format: { type: 'string', short: 'f', help: 'ndjson or csv', arg: 'ndjson|csv', default: 'ndjson' },
    'as-of': { type: 'string', help: 'valid time: the world on this date', arg: 'DATE' },
    'known-at': { type: 'string', help: 'known time: what could be known on this date', arg: 'DATE' },
    out: { type: 'string', short: 'o', help: 'write to this file instead of standard output', arg: 'FILE' },
    jurisdictions: { type: 'string', short: 'j', help: 'comma-separated jurisdiction codes', arg: 'LIST' },
    dimension: { type: 'string', help: 'one codebook dimension (divergence, series)', arg: 'ID' },
    variant: { type: 'string', help: 'all or de_jure (divergence, series)', arg: 'all|de_jure' },
    weights: { type: 'string', help: 'codebook or equal (divergence, series)', arg: 'codebook|equal' },
    from: { type: 'string', help: 'gap: the jurisdiction a deployer complies with', arg: 'J' },
    to: { type: 'string', help: 'gap: the jurisdiction it moves to', arg: 'J' },
    pair: { type: 'string', help: 'series: a pair such as EU,US instead of the global index', arg: 'A,B' },
    quiet: { type: 'boolean', short: 'q', help: 'no summary on standard error' },
  },
  examples: ['regstream export events > log.ndjson', 'regstream export divergence --as-of 2024-08-01 --format csv', 'regstream export stances --known-at 2023-01-01 -o stances.csv -f csv'],
};

export async function exportCommand(argv: readonly string[], io: Io): Promise<number> {
  const p = parse(exportSpec, argv);
  if (bool(p, 'help')) {
    io.stdout.write(helpText(exportSpec));
    return 0;
  }
  const view = (p.positionals[0] ?? 'events') as View;
  if (!(VIEWS as readonly string[]).includes(view)) throw new UsageError(`unknown view '${view}'; one of ${VIEWS.join(', ')}`, 'export');
  if (p.positionals.length > 1) throw new UsageError(`unexpected argument '${p.positionals[1]}'`, 'export');
  const format = oneOf(p, 'format', ['ndjson', 'csv'] as const, 'export', 'ndjson');
  const asOfGiven = dateOpt(p, 'as-of', 'export');
  const knownAt = dateOpt(p, 'known-at', 'export');
  const pair = listOpt(p, 'pair');
  if (pair && pair.length !== 2) throw new UsageError('--pair expects two jurisdictions, such as EU,US', 'export');
  const from = str(p, 'from');
  const to = str(p, 'to');
  if ((from === undefined) !== (to === undefined)) throw new UsageError('--from and --to go together', 'export');
  const q = {
    asOf: asOfGiven ?? new Date().toISOString().slice(0, 10),
    dated: asOfGiven !== undefined,
    ...(knownAt !== undefined ? { knownAt } : {}),
    ...(listOpt(p, 'jurisdictions') ? { jurisdictions: listOpt(p, 'jurisdictions') } : {}),
    ...(str(p, 'dimension') ? { dimension: str(p, 'dimension') } : {}),
    variant: oneOf(p, 'variant', ['all', 'de_jure'] as const, 'export', 'all'),
    weights: oneOf(p, 'weights', ['codebook', 'equal'] as const, 'export', 'codebook'),
    ...(from && to ? { from, to } : {}),
    ...(pair ? { pair: [pair[0], pair[1]] as [string, string] } : {}),
  };
  return withInfra(io, async (infra) => {
    const bar = progress(io, 'reading the log', await infra.store.count());
    const raw = await readLog(infra.store, (d, t) => bar.tick(d, t));
    bar.done();
    const seriesBar = view === 'series' ? progress(io, 'computing the series', 1) : null;
    const rows = viewRows(view, raw, toLog(raw), q, (d, t) => seriesBar?.tick(d, t));
    seriesBar?.done();
    const text = format === 'csv' ? csv(rows, COLUMNS[view]) : ndjson(rows);
    const out = str(p, 'out');
    if (out) {
      try {
        writeFileSync(resolve(io.cwd, out), text);
      } catch (e) {
        throw new CliError(`cannot write ${out}: ${e instanceof Error ? e.message : String(e)}`);
      }
    } else {
      io.stdout.write(text);
    }
    if (!bool(p, 'quiet') && (out || !io.stdout.isTTY)) io.stderr.write(`exported ${rows.length} ${view} row(s) as ${format}${out ? ` to ${out}` : ''}\n`);
    return 0;
  });
}
