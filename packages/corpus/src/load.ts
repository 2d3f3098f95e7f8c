import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { type AnyEnvelope, type CorpusDocument, CorpusFile, type CorpusIssue, corpusToEvents } from '@regstream/domain';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { uuidV5 } from './ids';

/** The corpus shipped with the repo: data/corpus. */
export const DEFAULT_CORPUS_DIR = resolve(__dirname, '..', '..', '..', 'data', 'corpus');

export class CorpusError extends Error {
  constructor(readonly issues: readonly CorpusIssue[]) {
    super(
      `corpus has ${issues.length} problem(s):\n` +
        issues
          .slice(0, 50)
          .map((i) => `  ${i.file}${i.line !== undefined ? `:${i.line}` : ''} ${i.path}: ${i.message}`)
          .join('\n'),
    );
    this.name = 'CorpusError';
  }
}

/** Every .yaml/.yml file under a file or folder, in a stable order. */
export function corpusFiles(target: string): string[] {
  const st = statSync(target);
  if (st.isFile()) return [target];
  const out: string[] = [];
  for (const name of readdirSync(target).sort()) {
    const p = join(target, name);
    if (statSync(p).isDirectory()) out.push(...corpusFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

/** Parses and validates one file; problems carry the file name and line. */
export function parseCorpusFile(path: string, displayName = basename(path)): { doc?: CorpusDocument; issues: CorpusIssue[] } {
  const text = readFileSync(path, 'utf8');
  const lc = new LineCounter();
  const yamlDoc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (yamlDoc.errors.length > 0) {
    return {
      issues: yamlDoc.errors.map((e) => ({ file: displayName, path: '', line: lc.linePos(e.pos[0]).line, message: e.message.split('\n')[0] ?? e.message })),
    };
  }
  const lineOf = (p: readonly (string | number)[]): number | undefined => {
    // Walk down to the deepest node that exists, so a missing field points at its parent.
    for (let n = p.length; n >= 0; n--) {
      const node = yamlDoc.getIn(p.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return lc.linePos(node.range[0]).line;
      if (n > 0 && (isMap(node) || isSeq(node))) break;
    }
    return undefined;
  };
  const parsed = CorpusFile.safeParse(yamlDoc.toJS());
  if (!parsed.success) {
    return {
      issues: parsed.error.issues.map((i) => ({
        file: displayName,
        path: i.path.map((x) => (typeof x === 'number' ? `[${x}]` : `.${String(x)}`)).join('').replace(/^\./, ''),
        line: lineOf(i.path as (string | number)[]),
        message: i.message,
      })),
    };
  }
  return { doc: { name: displayName, doc: parsed.data, lineOf }, issues: [] };
}

export interface LoadedCorpus {
  readonly files: string[];
  readonly events: AnyEnvelope[];
}

/** Loads a corpus file or folder into envelopes, or throws a CorpusError naming each file and line. */
export function loadCorpus(target: string = DEFAULT_CORPUS_DIR): LoadedCorpus {
  const root = statSync(target).isDirectory() ? target : resolve(target, '..');
  const files = corpusFiles(target);
  const docs: CorpusDocument[] = [];
  const issues: CorpusIssue[] = [];
  for (const f of files) {
    const r = parseCorpusFile(f, relative(root, f) || basename(f));
    issues.push(...r.issues);
    if (r.doc) docs.push(r.doc);
  }
  const { events, issues: mapIssues } = corpusToEvents(docs, (key) => uuidV5(key));
  issues.push(...mapIssues);
  if (issues.length > 0) throw new CorpusError(issues);
  return { files, events };
}
