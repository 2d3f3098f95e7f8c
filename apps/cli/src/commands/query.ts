import { CODEBOOK_V1, dimensionById } from '@regstream/domain';
import { bool, type CommandSpec, dateOpt, helpText, listOpt, oneOf, parse, str } from '../args';
import { fixed, levelLabel, table } from '../format';
import { Queries } from '@regstream/projections';
import { CliError, type Io, progress, UsageError } from '../io';
import { readModels } from './replay';
import { readLog, withInfra } from '../store';
import { divergence, gap, instrumentDetail, series, stances, timeline, toLog } from '../views';

const KINDS = ['timeline', 'stances', 'divergence', 'gap', 'series', 'instrument'] as const;
type Kind = (typeof KINDS)[number];

export const querySpec: CommandSpec = {
  name: 'query',
  summary: 'answer a question about the regulation log, as of a date and as known at a date',
  usage: `regstream query <${KINDS.join('|')}> [options]`,
  description: [
    'timeline     milestones per jurisdiction (future ones marked)',
    'stances      the coded stance of each jurisdiction on each codebook dimension',
    'divergence   the pairwise divergence matrix, global index and coverage',
    'gap          what a deployer compliant in --from still owes in --to',
    'series       the divergence index over time (global, or --pair A,B)',
    'instrument   one instrument with milestones and applicability (regstream query instrument <id>)',
    '',
    'Text tables by default; --json prints JSON in the read API\'s shapes. Answers are computed from the event',
    'log by default; --source models reads the projections instead (what the API serves; they follow the log',
    'as the projector applies it, or after `regstream replay`).',
  ].join('\n'),
  options: {
    'as-of': { type: 'string', help: 'valid time (default: today)', arg: 'DATE' },
    'known-at': { type: 'string', help: 'known time (default: everything known)', arg: 'DATE' },
    jurisdictions: { type: 'string', short: 'j', help: 'comma-separated jurisdiction codes', arg: 'LIST' },
    dimension: { type: 'string', help: 'one codebook dimension', arg: 'ID' },
    variant: { type: 'string', help: 'all or de_jure', arg: 'all|de_jure' },
    weights: { type: 'string', help: 'codebook or equal', arg: 'codebook|equal' },
    from: { type: 'string', help: 'gap: jurisdiction complied with (default US)', arg: 'J' },
    to: { type: 'string', help: 'gap: jurisdiction moved to (default EU)', arg: 'J' },
    pair: { type: 'string', help: 'series: a pair such as EU,US', arg: 'A,B' },
    source: { type: 'string', help: "log: computed from the event log (always current); models: the read models the API serves", arg: 'log|models', default: 'log' },
    json: { type: 'boolean', help: 'print JSON instead of a table' },
  },
  examples: ['regstream query divergence --as-of 2024-08-01', 'regstream query gap --from US --to EU --json', 'regstream query stances -j EU,CN --known-at 2023-06-01', 'regstream query instrument eu-ai-act'],
};

const label = (dim: string) => dimensionById(CODEBOOK_V1, dim)?.label ?? dim;

export async function queryCommand(argv: readonly string[], io: Io): Promise<number> {
  const p = parse(querySpec, argv);
  if (bool(p, 'help') || p.positionals.length === 0) {
    io.stdout.write(helpText(querySpec));
    return bool(p, 'help') ? 0 : 2;
  }
  const kind = p.positionals[0] as Kind;
  if (!(KINDS as readonly string[]).includes(kind)) throw new UsageError(`unknown query '${kind}'; one of ${KINDS.join(', ')}`, 'query');
  if (kind === 'instrument' && !p.positionals[1]) throw new UsageError('query instrument needs an instrument id', 'query');
  const asOf = dateOpt(p, 'as-of', 'query') ?? new Date().toISOString().slice(0, 10);
  const knownAt = dateOpt(p, 'known-at', 'query');
  const jurisdictions = listOpt(p, 'jurisdictions');
  const dimension = str(p, 'dimension');
  if (dimension && !dimensionById(CODEBOOK_V1, dimension)) throw new UsageError(`unknown dimension '${dimension}'; one of ${CODEBOOK_V1.dimensions.map((d) => d.id).join(', ')}`, 'query');
  const variant = oneOf(p, 'variant', ['all', 'de_jure'] as const, 'query', 'all');
  const weights = oneOf(p, 'weights', ['codebook', 'equal'] as const, 'query', 'codebook');
  const pair = listOpt(p, 'pair');
  if (pair && pair.length !== 2) throw new UsageError('--pair expects two jurisdictions, such as EU,US', 'query');
  const t = { asOf, ...(knownAt !== undefined ? { knownAt } : {}) };
  const json = bool(p, 'json');
  const source = oneOf(p, 'source', ['log', 'models'] as const, 'query', 'log');
  const print = (s: string) => io.stdout.write(s);

  return withInfra(io, async (infra) => {
    let models: Queries | null = null;
    if (source === 'models') {
      if (!(await readModels(infra))) throw new CliError('this store has no read models; query the log instead (--source log)');
      models = new Queries(infra.dataSource);
    }
    const bar = progress(io, 'reading the log', models ? 0 : await infra.store.count());
    const log = models ? [] : toLog(await readLog(infra.store, (d, total) => bar.tick(d, total)));
    bar.done();
    const head = `as of ${asOf}${knownAt ? `, as known at ${knownAt}` : ''}`;
    switch (kind) {
      case 'timeline': {
        const r = models ? await models.timeline({ ...t, ...(jurisdictions ? { jurisdictions } : {}) }) : timeline(log, { ...t, ...(jurisdictions ? { jurisdictions } : {}) });
        if (json) return print(`${JSON.stringify(r, null, 2)}\n`), 0;
        const rows = r.lanes.flatMap((l) => l.milestones.map((m) => ({ jurisdiction: l.jurisdiction, date: m.validTime.slice(0, 10), milestone: m.type, instrument: m.instrumentId, provision: m.provision ?? '', future: m.future ? 'future' : '' })));
        print(`Timeline ${head}: ${rows.length} milestones\n\n${table(rows)}`);
        return 0;
      }
      case 'stances': {
        const r = models ? (await models.stances({ ...t, ...(jurisdictions ? { jurisdictions } : {}) })).stances : stances(log, { ...t, ...(jurisdictions ? { jurisdictions } : {}) });
        if (json) return print(`${JSON.stringify({ ...t, stances: r }, null, 2)}\n`), 0;
        print(`Stances ${head}\n\n${table(r.map((s) => ({ jurisdiction: s.jurisdiction, dimension: s.dimension, value: levelLabel(s.dimension, s.value), since: s.validFrom.slice(0, 10), confidence: s.confidence, basis: s.basis ?? '' })))}`);
        return 0;
      }
      case 'divergence': {
        const r = models
          ? await models.divergence({ ...t, ...(jurisdictions ? { jurisdictions } : {}), ...(dimension ? { dimensions: [dimension] } : {}), variant, weights })
          : divergence(log, { ...t, ...(jurisdictions ? { jurisdictions } : {}), ...(dimension ? { dimension } : {}), variant, weights });
        if (json) return print(`${JSON.stringify(r, null, 2)}\n`), 0;
        const value = (a: string, b: string) => {
          if (a === b) return '·';
          const pr = r.pairs.find((x) => (x.a === a && x.b === b) || (x.a === b && x.b === a));
          return pr ? fixed(pr.value) : '';
        };
        const matrix = r.jurisdictions.map((a) => ({ '': a, ...Object.fromEntries(r.jurisdictions.map((b) => [b, value(a, b)])) }));
        print(
          `Divergence on ${dimension ? label(dimension) : 'all dimensions'} ${head} (codebook ${r.codebookVersion}, ${r.methodologyVersion}, ${variant}, ${weights} weights)\n\n` +
            table(matrix, ['', ...r.jurisdictions]) +
            `\nglobal index ${fixed(r.global.value)}  dispersion ${fixed(r.global.dispersion)}  pairs ${r.global.pairs}/${r.pairs.length}  mean coverage ${(r.global.meanCoverage * 100).toFixed(0)}%\n` +
            `\ncoverage by dimension:\n${table(Object.entries(r.coverage).map(([d, share]) => ({ dimension: label(d), coverage: `${(share * 100).toFixed(0)}%` })))}`,
        );
        return 0;
      }
      case 'gap': {
        const from = str(p, 'from') ?? 'US';
        const to = str(p, 'to') ?? 'EU';
        const r = models ? await models.gap({ ...t, from, to }) : gap(log, { ...t, from, to });
        if (json) return print(`${JSON.stringify(r, null, 2)}\n`), 0;
        print(
          `Compliance gap ${from} → ${to} ${head}: score ${fixed(r.score)}\n\n` +
            table(r.items.map((i) => ({ dimension: label(i.dimension), [from]: levelLabel(i.dimension, i.from), [to]: levelLabel(i.dimension, i.to), owed: `${(i.owed * 100).toFixed(0)}%`, 'additional areas': i.additionalAreas ? levelLabel(i.dimension, i.additionalAreas) : '' }))) +
            (r.differentInKind.length ? `\ndifferent in kind: ${r.differentInKind.map(label).join(', ')}\n` : '') +
            (r.missing.length ? `not coded on both sides: ${r.missing.map(label).join(', ')}\n` : ''),
        );
        return 0;
      }
      case 'series': {
        const sbar = progress(io, 'computing the series', 1);
        const sq = { to: asOf, ...(knownAt !== undefined ? { knownAt } : {}), ...(jurisdictions ? { jurisdictions } : {}), ...(dimension ? { dimension } : {}), ...(pair ? { a: pair[0], b: pair[1] } : {}) };
        const pts = models ? (await models.series(sq)).points : series(log, { ...sq, variant, weights }, undefined, (d, total) => sbar.tick(d, total));
        sbar.done();
        if (json) return print(`${JSON.stringify({ points: pts, codebookVersion: CODEBOOK_V1.version, methodologyVersion: CODEBOOK_V1.methodologyVersion }, null, 2)}\n`), 0;
        print(`Divergence index over time (${pair ? pair.join(' ↔ ') : 'global'}) up to ${asOf}\n\n${table(pts.map((x) => ({ from: x.validFrom, value: fixed(x.value), dispersion: fixed(x.dispersion), 'caused by': `${x.causedBy.length} event(s)` })))}`);
        return 0;
      }
      case 'instrument': {
        const id = p.positionals[1] as string;
        const r = models ? await models.instrument(id, t) : instrumentDetail(log, id, t);
        if (!r) {
          io.stderr.write(`no instrument '${id}' known ${knownAt ? `at ${knownAt}` : 'in the store'}\n`);
          return 1;
        }
        if (json) return print(`${JSON.stringify(r, null, 2)}\n`), 0;
        const i = r.instrument;
        print(
          `${i.titles.en}\n${i.jurisdiction} · ${i.kind} · ${i.legalForce} · ${i.status} · ${i.issuingBody}\n${i.citation ? `source: ${i.citation.url}\n` : ''}\n` +
            table(r.milestones.map((m) => ({ date: m.validTime.slice(0, 10), milestone: m.type, provision: m.provision ?? '', future: m.future ? 'future' : '', citation: m.citation?.url ?? '' })), undefined, 90) +
            (r.applicability.length ? `\n${table(r.applicability.map((a) => ({ provision: a.provision, 'applies from': a.appliesFrom.slice(0, 10), changes: a.history.length - 1 })))}` : ''),
        );
        return 0;
      }
    }
  });
}
