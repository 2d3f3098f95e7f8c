import { parseArgs } from 'node:util';
import { isRealDate, toEpochMs } from '@regstream/domain';
import { UsageError } from './io';

export type OptionSpec = { readonly type: 'string' | 'boolean'; readonly short?: string; readonly multiple?: boolean; readonly default?: string | boolean };

export interface CommandSpec {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly description?: string;
  readonly options: Readonly<Record<string, OptionSpec & { readonly help: string; readonly arg?: string }>>;
  readonly examples?: readonly string[];
}

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

type Option = CommandSpec['options'][string];

export const HELP_OPTION: Record<string, Option> = { help: { type: 'boolean', short: 'h', help: 'show this help' } };

export function parse(spec: CommandSpec, argv: readonly string[]): Parsed {
  try {
    const options = Object.fromEntries(
      Object.entries({ ...spec.options, ...HELP_OPTION }).map(([k, o]: [string, Option]) => [k, { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}), ...(o.default !== undefined ? { default: o.default } : {}) }]),
    );
    const r = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: r.values as Parsed['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message.replace(/^TypeError \[[A-Z_]+\]: /, '') : String(e), spec.name);
  }
}

export function helpText(spec: CommandSpec): string {
  const opts = Object.entries({ ...spec.options, ...HELP_OPTION }).map(([k, o]: [string, Option]) => {
    const flag = `${o.short ? `-${o.short}, ` : '    '}--${k}${o.type === 'string' ? ` <${('arg' in o && o.arg) || 'value'}>` : ''}`;
    return `  ${flag.padEnd(30)} ${o.help}${o.default !== undefined && o.type === 'string' ? ` (default: ${String(o.default)})` : ''}`;
  });
  return [
    `regstream ${spec.name} — ${spec.summary}`,
    '',
    `usage: ${spec.usage}`,
    ...(spec.description ? ['', spec.description] : []),
    '',
    'options:',
    ...opts,
    ...(spec.examples?.length ? ['', 'examples:', ...spec.examples.map((e) => `  ${e}`)] : []),
    '',
  ].join('\n');
}

export function str(p: Parsed, k: string): string | undefined {
  const v = p.values[k];
  return typeof v === 'string' ? v : undefined;
}

export function bool(p: Parsed, k: string): boolean {
  return p.values[k] === true;
}

/** A date (YYYY-MM-DD) or RFC 3339 date-time, or `today`/`now`. */
export function dateOpt(p: Parsed, k: string, command: string, now: () => Date = () => new Date()): string | undefined {
  const v = str(p, k);
  if (v === undefined) return undefined;
  if (v === 'today') return now().toISOString().slice(0, 10);
  if (v === 'now') return now().toISOString();
  if ((/^\d{4}-\d{2}-\d{2}$/.test(v) && isRealDate(v)) || (v.length > 10 && toEpochMs(v) !== null)) return v;
  throw new UsageError(`--${k} expects a date as YYYY-MM-DD (or an RFC 3339 date-time), got '${v}'`, command);
}

/** `EU,US CN` → ['EU','US','CN']. */
export function listOpt(p: Parsed, k: string): string[] | undefined {
  const v = p.values[k];
  const raw = Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
  const items = raw.flatMap((s) => s.split(/[,\s]+/)).map((s) => s.trim()).filter(Boolean);
  return items.length ? items : undefined;
}

export function oneOf<T extends string>(p: Parsed, k: string, allowed: readonly T[], command: string, fallback: T): T {
  const v = str(p, k);
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new UsageError(`--${k} must be one of ${allowed.join(', ')}; got '${v}'`, command);
  return v as T;
}
