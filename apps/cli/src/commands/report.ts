import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { CODEBOOK_V1, dimensionById } from '@regstream/domain';
import { bool, type CommandSpec, dateOpt, helpText, listOpt, oneOf, parse, str } from '../args';
import { CliError, type Io, progress, UsageError } from '../io';
import { reportHtml, reportSvg } from '../report';
import { readLog, withInfra } from '../store';
import { divergence, series, toLog } from '../views';

export const reportSpec: CommandSpec = {
  name: 'report',
  summary: 'write a self-contained HTML or SVG report of the divergence matrix and the index over time',
  usage: 'regstream report [--as-of DATE] [--known-at DATE] [--format html|svg] [--out FILE]',
  description: 'The report embeds its charts as inline SVG and its styles inline: no script, no external resource. It opens offline and can be archived or mailed as one file.',
  options: {
    'as-of': { type: 'string', help: 'valid time (default: today)', arg: 'DATE' },
    'known-at': { type: 'string', help: 'known time (default: everything known)', arg: 'DATE' },
    format: { type: 'string', short: 'f', help: 'html or svg', arg: 'html|svg', default: 'html' },
    out: { type: 'string', short: 'o', help: 'output file (default: regstream-report-<as-of>.<format>)', arg: 'FILE' },
    jurisdictions: { type: 'string', short: 'j', help: 'comma-separated jurisdiction codes (default: every coded one)', arg: 'LIST' },
    dimension: { type: 'string', help: 'one codebook dimension instead of the composite index', arg: 'ID' },
    quiet: { type: 'boolean', short: 'q', help: 'print nothing but errors' },
  },
  examples: ['regstream report --as-of 2024-08-01', 'regstream report --format svg --out matrix.svg -j EU,US,CN'],
};

export async function reportCommand(argv: readonly string[], io: Io): Promise<number> {
  const p = parse(reportSpec, argv);
  if (bool(p, 'help')) {
    io.stdout.write(helpText(reportSpec));
    return 0;
  }
  if (p.positionals.length) throw new UsageError(`unexpected argument '${p.positionals[0]}'`, 'report');
  const asOf = dateOpt(p, 'as-of', 'report') ?? new Date().toISOString().slice(0, 10);
  const knownAt = dateOpt(p, 'known-at', 'report');
  const format = oneOf(p, 'format', ['html', 'svg'] as const, 'report', 'html');
  const dimension = str(p, 'dimension');
  if (dimension && !dimensionById(CODEBOOK_V1, dimension)) throw new UsageError(`unknown dimension '${dimension}'`, 'report');
  const jurisdictions = listOpt(p, 'jurisdictions');
  const out = resolve(io.cwd, str(p, 'out') ?? `regstream-report-${asOf.slice(0, 10)}.${format}`);
  return withInfra(io, async (infra) => {
    const bar = progress(io, 'reading the log', await infra.store.count());
    const log = toLog(await readLog(infra.store, (d, t) => bar.tick(d, t)));
    bar.done();
    const q = { asOf, ...(knownAt !== undefined ? { knownAt } : {}), ...(jurisdictions ? { jurisdictions } : {}), ...(dimension ? { dimension } : {}) };
    const div = divergence(log, q);
    const sbar = progress(io, 'computing the index over time', 1);
    const pts = series(log, { ...q, to: asOf }, undefined, (d, t) => sbar.tick(d, t));
    sbar.done();
    const data = { asOf, ...(knownAt !== undefined ? { knownAt } : {}), ...(dimension ? { dimension } : {}), divergence: div, series: pts, generatedAt: new Date().toISOString(), log };
    try {
      writeFileSync(out, format === 'html' ? reportHtml(data) : reportSvg(data));
    } catch (e) {
      throw new CliError(`cannot write ${out}: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (!bool(p, 'quiet')) io.stdout.write(`wrote ${out} (${format}; ${div.jurisdictions.length} jurisdictions, ${pts.length} index changes up to ${asOf})\n`);
    return 0;
  });
}
