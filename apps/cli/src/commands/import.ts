import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { CorpusError, corpusFiles, loadCorpus, uuidV5 } from '@regstream/corpus';
import { type AnyEnvelope, type FieldIssue, parseNewEvent, toEpochMs } from '@regstream/domain';
import { EventIngestor, IngestValidationError } from '@regstream/ingest';
import { bool, type CommandSpec, helpText, parse } from '../args';
import { CliError, type Io, progress, UsageError } from '../io';
import { withInfra } from '../store';

export const importSpec: CommandSpec = {
  name: 'import',
  summary: 'validate and append corpus files (YAML) or exported events (NDJSON) to the event store',
  usage: 'regstream import <file|dir>... [--dry-run] [--quiet]',
  description: [
    'YAML corpus files (data/corpus format) and folders of them go through the corpus loader; .ndjson/.jsonl',
    'files of events (as written by `regstream export events`) go through the same validation as POST /v1/events.',
    'Everything is appended by the ingestor, with the instrument rules checked. Event ids are deterministic, so',
    'importing the same files again writes nothing. A malformed file stops the import before anything is',
    'written, naming the file and line.',
  ].join('\n'),
  options: {
    'dry-run': { type: 'boolean', help: 'validate only; write nothing' },
    quiet: { type: 'boolean', short: 'q', help: 'print nothing but errors' },
  },
  examples: ['regstream import data/corpus', 'regstream import data/corpus/eu.yaml', 'regstream import backup.ndjson'],
};

const BATCH = 500;
const NDJSON = /\.(nd)?jsonl?$|\.ndjson$/i;

interface Loaded {
  readonly envelopes: AnyEnvelope[];
  readonly files: number;
}

function display(io: Io, p: string): string {
  const r = relative(io.cwd, p);
  return r && !r.startsWith('..') ? r : p;
}

function loadYaml(io: Io, target: string): { envelopes: AnyEnvelope[]; files: number } {
  const root = statSync(target).isDirectory() ? target : dirname(target);
  try {
    const loaded = loadCorpus(target);
    return { envelopes: loaded.events, files: loaded.files.length };
  } catch (e) {
    if (!(e instanceof CorpusError)) throw e;
    const lines = e.issues.map((i) => `${display(io, join(root, i.file))}${i.line !== undefined ? `:${i.line}` : ''}: ${i.path ? `${i.path}: ` : ''}${i.message}`);
    throw new CliError(`import failed: ${e.issues.length} problem(s); nothing was written\n${lines.map((l) => `  ${l}`).join('\n')}`);
  }
}

/** What a client may say about an event; the rest (position, recorded time...) the store adds. */
const INPUT_KEYS = ['type', 'schemaversion', 'subject', 'id', 'source', 'validtime', 'knowntime', 'citation', 'correlationid', 'causationid', 'data'];

/**
 * NDJSON events (one envelope per line, as `regstream export events` writes them) get the same checks
 * as POST /v1/events; what the export carries beyond a client's input (the original record time and
 * idempotency key) is kept, so an export re-imports into an identical log. A line without an id gets
 * one derived from its content, so importing the file again still writes nothing.
 */
function loadNdjson(io: Io, file: string): { envelopes: AnyEnvelope[]; issues: string[] } {
  const envelopes: AnyEnvelope[] = [];
  const issues: string[] = [];
  const now = new Date();
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      const where = `${display(io, file)}:${i + 1}`;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (e) {
        issues.push(`${where}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
        return;
      }
      if (v === null || typeof v !== 'object' || Array.isArray(v)) {
        issues.push(`${where}: expected one JSON object per line`);
        return;
      }
      const o = v as Record<string, unknown>;
      const input = Object.fromEntries(INPUT_KEYS.filter((k) => k in o).map((k) => [k, o[k]]));
      const r = parseNewEvent(input, { now, newId: () => uuidV5(`ndjson/${line.trim()}`), defaultSource: '/regstream/cli' });
      if (!r.ok) {
        issues.push(...r.issues.map((x) => `${where}: ${x.path ? `${x.path}: ` : ''}${x.message}`));
        return;
      }
      const time = typeof o['time'] === 'string' && toEpochMs(o['time']) !== null ? o['time'] : undefined;
      const key = typeof o['idempotencykey'] === 'string' && o['idempotencykey'] !== '' ? o['idempotencykey'] : undefined;
      envelopes.push({ ...r.value.envelope, ...(time ? { time } : {}), ...(key ? { idempotencykey: key } : {}) });
    });
  return { envelopes, issues };
}

function load(io: Io, targets: readonly string[]): Loaded {
  const envelopes: AnyEnvelope[] = [];
  const issues: string[] = [];
  let files = 0;
  for (const t of targets) {
    const path = resolve(io.cwd, t);
    if (!existsSync(path)) throw new CliError(`import failed: ${t}: no such file or directory`);
    if (statSync(path).isFile() && NDJSON.test(path)) {
      const n = loadNdjson(io, path);
      envelopes.push(...n.envelopes);
      issues.push(...n.issues);
      files += 1;
      continue;
    }
    if (statSync(path).isDirectory() && corpusFiles(path).length === 0) throw new CliError(`import failed: ${t}: no .yaml or .yml files in this folder`);
    const y = loadYaml(io, path);
    envelopes.push(...y.envelopes);
    files += y.files;
  }
  if (issues.length) throw new CliError(`import failed: ${issues.length} problem(s); nothing was written\n${issues.slice(0, 50).map((l) => `  ${l}`).join('\n')}`);
  // The same event named twice (a file given twice, or a folder and a file in it) is imported once.
  const seen = new Set<string>();
  return { envelopes: envelopes.filter((e) => !seen.has(e.id) && seen.add(e.id)), files };
}

function describeIssues(issues: readonly FieldIssue[], where: (index: number) => string): string {
  return issues
    .slice(0, 50)
    .map((i) => {
      const m = /^events\[(\d+)\]\.?(.*)$/.exec(i.path);
      return m ? `  ${where(Number(m[1]))}: ${m[2] ? `${m[2]}: ` : ''}${i.message}` : `  ${i.path}: ${i.message}`;
    })
    .join('\n');
}

export async function importCommand(argv: readonly string[], io: Io): Promise<number> {
  const p = parse(importSpec, argv);
  if (bool(p, 'help')) {
    io.stdout.write(helpText(importSpec));
    return 0;
  }
  if (p.positionals.length === 0) throw new UsageError('import needs at least one file or folder', 'import');
  const quiet = bool(p, 'quiet');
  const loaded = load(io, p.positionals);
  const total = loaded.envelopes.length;
  if (bool(p, 'dry-run')) {
    if (!quiet) io.stdout.write(`valid: ${total} events in ${loaded.files} file(s); nothing written (dry run)\n`);
    return 0;
  }
  return withInfra(io, async (infra) => {
    const ingestor = new EventIngestor(infra.store);
    const bar = progress(io, 'importing', total);
    let written = 0;
    let done = 0;
    try {
      for (let i = 0; i < loaded.envelopes.length; i += BATCH) {
        const batch = loaded.envelopes.slice(i, i + BATCH);
        try {
          written += (await ingestor.ingestEnvelopes(batch)).written;
        } catch (e) {
          if (!(e instanceof IngestValidationError)) throw e;
          const where = (k: number) => {
            const env = batch[k];
            return env ? `${env.subject} ${env.type}${env.idempotencykey ? ` (${env.idempotencykey})` : ''}` : `event ${i + k}`;
          };
          throw new CliError(`import stopped: the store refused a batch${written ? ` (${written} events of earlier batches were written)` : ''}\n${describeIssues(e.issues, where)}`);
        }
        done += batch.length;
        bar.tick(done);
      }
    } finally {
      bar.done();
    }
    if (!quiet) {
      io.stdout.write(
        written === 0
          ? `nothing to import: all ${total} events from ${loaded.files} file(s) are already in the store\n`
          : `imported ${written} new events from ${loaded.files} file(s)${total - written ? ` (${total - written} already in the store)` : ''}\n`,
      );
    }
    return 0;
  });
}
