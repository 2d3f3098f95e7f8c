import { createHash } from 'node:crypto';
import { instrumentDecider, type InstrumentState, type StoredEvent } from '@regstream/domain';
import { Projector } from '@regstream/projections';
import type { Infrastructure } from '@regstream/runtime';
import { bool, type CommandSpec, dateOpt, helpText, parse, str } from '../args';
import { CliError, type Io, progress, UsageError } from '../io';
import { readLog, withInfra } from '../store';
import { divergence, stances, timeline, toLog } from '../views';

export const replaySpec: CommandSpec = {
  name: 'replay',
  summary: 'replay the whole event log: rebuild the read models and check every stream',
  usage: 'regstream replay [--check-only] [--name NAME] [--known-at DATE] [--json]',
  description: [
    'Reads every event in commit order. The read models are rebuilt into a new version beside the live one,',
    'which keeps answering, and switched live when caught up (with --name: a separate research model that is',
    'never switched live). Each instrument stream is also folded through the instrument rules, and any event',
    'the rules would now refuse is reported (exit code 1).',
  ].join('\n'),
  options: {
    'check-only': { type: 'boolean', help: 'only check the streams; leave the read models alone' },
    name: { type: 'string', help: 'build a named research model x_<NAME> instead of a new live version', arg: 'NAME' },
    'known-at': { type: 'string', help: 'with --name: only events known at this date', arg: 'DATE' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
};

export const checksumSpec: CommandSpec = {
  name: 'checksum',
  summary: 'print checksums of the event log and of the views computed from it',
  usage: 'regstream checksum [--as-of DATE] [--json]',
  description: [
    'models digest of the live read models (order- and dialect-independent): equal in embedded and',
    '       distributed mode for the same events',
    'log    SHA-256 over every event (id, type, stream, version, times, data, citation) ordered by stream and',
    '       version: equal in any store (SQLite or PostgreSQL) holding the same events',
    'views  SHA-256 over the stance matrix, timeline and divergence matrix as of --as-of (default 2100-01-01,',
    '       so the value does not change with the calendar)',
  ].join('\n'),
  options: {
    'as-of': { type: 'string', help: 'valid time of the views (default 2100-01-01)', arg: 'DATE' },
    json: { type: 'boolean', help: 'print the result as JSON' },
  },
};

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function logChecksum(events: readonly StoredEvent[]): string {
  const h = createHash('sha256');
  const sorted = [...events].sort((a, b) => a.subject.localeCompare(b.subject) || a.streamversion - b.streamversion);
  for (const e of sorted) {
    h.update(canonical({ id: e.id, type: e.type, schemaversion: e.schemaversion, subject: e.subject, streamversion: e.streamversion, validtime: e.validtime, knowntime: e.knowntime, citation: e.citation, data: e.data }));
    h.update('\n');
  }
  return h.digest('hex');
}

export function viewsChecksum(events: readonly StoredEvent[], asOf: string): string {
  const log = toLog(events);
  const body = canonical({ stances: stances(log, { asOf }), timeline: timeline(log, { asOf }), divergence: divergence(log, { asOf }) });
  return createHash('sha256').update(body).digest('hex');
}

/** The projector over the store's read models, or null when this store has none (not migrated). */
export async function readModels(infra: Infrastructure): Promise<Projector | null> {
  const projector = new Projector(infra.dataSource);
  try {
    await projector.activeModel();
    return projector;
  } catch {
    return null;
  }
}

export async function replayCommand(argv: readonly string[], io: Io): Promise<number> {
  const p = parse(replaySpec, argv);
  if (bool(p, 'help')) {
    io.stdout.write(helpText(replaySpec));
    return 0;
  }
  const name = str(p, 'name');
  const knownAt = dateOpt(p, 'known-at', 'replay');
  if (knownAt !== undefined && name === undefined) throw new UsageError('--known-at builds a research model: give it a --name', 'replay');
  if (bool(p, 'check-only') && name !== undefined) throw new UsageError('--check-only and --name exclude each other', 'replay');
  return withInfra(io, async (infra) => {
    const total = await infra.store.count();
    let rebuilt: { model: string; events: number; seconds: number; eventsPerSecond: number; switched: boolean; previous: string | null; deadLettered: number } | null = null;
    const projector = bool(p, 'check-only') ? null : await readModels(infra);
    if (!bool(p, 'check-only') && !projector) io.stderr.write('this store has no read models yet (not migrated): checking the streams only\n');
    if (projector) {
      const rb = progress(io, 'rebuilding read models', total);
      try {
        const r = await projector.rebuild(infra.store, {
          ...(name !== undefined ? { name, replace: true } : {}),
          ...(knownAt !== undefined ? { knownAt } : {}),
          onProgress: (x) => rb.tick(x.processed, Math.max(x.total, x.processed)),
        });
        rebuilt = { model: r.model, events: r.events, seconds: r.seconds, eventsPerSecond: r.eventsPerSecond, switched: r.switched, previous: r.previous, deadLettered: r.deadLettered };
      } finally {
        rb.done();
      }
    }
    const bar = progress(io, 'checking streams', total);
    const started = Date.now();
    const events = await readLog(infra.store, (d, t) => bar.tick(d, t));
    const states = new Map<string, InstrumentState>();
    const problems: string[] = [];
    events.forEach((e) => {
      if (!e.subject.startsWith('instrument-')) return;
      const s = states.get(e.subject) ?? instrumentDecider.initialState();
      try {
        instrumentDecider.decide({ type: 'RecordInstrumentEvent', event: e }, s);
      } catch (err) {
        problems.push(`${e.subject}@${e.streamversion} ${e.type} (${e.id}): ${err instanceof Error ? err.message : String(err)}`);
      }
      states.set(e.subject, instrumentDecider.evolve(s, e));
    });
    const log = toLog(events);
    const asOf = new Date().toISOString().slice(0, 10);
    const st = stances(log, { asOf });
    const tl = timeline(log, { asOf });
    bar.done();
    const result = {
      readModels: rebuilt,
      events: events.length,
      streams: new Set(events.map((e) => e.subject)).size,
      instruments: states.size,
      stances: st.length,
      milestones: tl.lanes.reduce((n, l) => n + l.milestones.length, 0),
      problems,
      ms: Date.now() - started,
    };
    if (bool(p, 'json')) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      if (rebuilt) {
        io.stdout.write(
          `rebuilt read model ${rebuilt.model} from ${rebuilt.events} events in ${rebuilt.seconds.toFixed(1)} s (${rebuilt.eventsPerSecond} events/s)` +
            `${rebuilt.switched ? `; now live${rebuilt.previous ? ` (was ${rebuilt.previous})` : ''}` : '; not switched live'}` +
            `${rebuilt.deadLettered ? `; ${rebuilt.deadLettered} event(s) dead-lettered` : ''}\n`,
        );
      }
      io.stdout.write(
        `checked ${result.events} events in ${result.streams} streams (${result.instruments} instruments) in ${result.ms} ms: ` +
          `${result.milestones} milestones, ${result.stances} current stance codings\n`,
      );
      if (problems.length) io.stdout.write(`${problems.length} event(s) break the instrument rules:\n${problems.map((x) => `  ${x}`).join('\n')}\n`);
    }
    if (problems.length) throw new CliError(`replay found ${problems.length} problem(s)`);
    if (rebuilt?.deadLettered) throw new CliError(`${rebuilt.deadLettered} event(s) could not be projected (dead letters)`);
    return 0;
  });
}

export async function checksumCommand(argv: readonly string[], io: Io): Promise<number> {
  const p = parse(checksumSpec, argv);
  if (bool(p, 'help')) {
    io.stdout.write(helpText(checksumSpec));
    return 0;
  }
  const asOf = dateOpt(p, 'as-of', 'checksum') ?? '2100-01-01';
  return withInfra(io, async (infra) => {
    const bar = progress(io, 'reading the log', await infra.store.count());
    const events = await readLog(infra.store, (d, t) => bar.tick(d, t));
    bar.done();
    const projector = await readModels(infra);
    const models = projector ? await projector.checksum() : null;
    const result = { events: events.length, models, log: logChecksum(events), views: viewsChecksum(events, asOf), asOf };
    if (bool(p, 'json')) io.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      io.stdout.write(
        `events ${result.events}\n` +
          (models ? `models ${models.digest}  (${models.model}; ${Object.entries(models.tables).map(([t, c]) => `${t} ${c.rows}`).join(', ')})\n` : 'models (this store has no read models)\n') +
          `log    ${result.log}\nviews  ${result.views}  (as of ${asOf})\n`,
      );
    }
    return 0;
  });
}
