import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './procs';

/** A reference measured in the same run, on the same machine, beside a regstream figure. */
export interface Reference {
  readonly label: string;
  readonly eventsPerSec?: number;
  readonly p50?: number;
  readonly p99?: number;
}

export interface Target {
  readonly text: string;
  /** null: not evaluated (for instance skipped or not applicable in this profile). */
  readonly pass: boolean | null;
}

export interface Row {
  readonly id: string;
  readonly group: string;
  readonly label: string;
  readonly eventsPerSec?: number;
  readonly p50?: number;
  readonly p99?: number;
  /** Peak RSS (VmHWM, MiB) of each process involved during this measurement. */
  readonly rssMb?: Readonly<Record<string, number>>;
  readonly ref?: Reference;
  /** regstream ÷ reference (throughput, or latency where a row is about latency). */
  readonly ratio?: number;
  readonly ratioOf?: 'throughput' | 'latency';
  readonly target?: Target;
  readonly note?: string;
  readonly extra?: Readonly<Record<string, unknown>>;
}

const fmtNum = (n: number | undefined, digits = 0): string => {
  if (n === undefined || Number.isNaN(n)) return '-';
  if (Math.abs(n) >= 1000) return Math.round(n).toLocaleString('en-US');
  return n.toFixed(digits);
};
const fmtMs = (n: number | undefined): string => (n === undefined || Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'));
const fmtRss = (r: Readonly<Record<string, number>> | undefined): string =>
  r
    ? Object.entries(r)
        .map(([k, v]) => `${k} ${Number.isNaN(v) ? '?' : Math.round(v)}`)
        .join(', ')
    : '-';

/** The one table: each regstream figure, its reference, the ratio and the target. */
export function formatTable(unordered: readonly Row[]): string {
  // Rows grouped by section, sections in order of first appearance, rows in measurement order.
  const groups = [...new Set(unordered.map((r) => r.group))];
  const rows = groups.flatMap((g) => unordered.filter((r) => r.group === g));
  const header = ['measurement', 'events/s', 'p50 ms', 'p99 ms', 'peak RSS MiB', 'reference', 'ref events/s', 'ref p50', 'ref p99', 'ratio', 'target', ''];
  const lines: string[][] = [header];
  let group = '';
  const groupRows: number[] = [];
  for (const r of rows) {
    if (r.group !== group) {
      group = r.group;
      groupRows.push(lines.length);
      lines.push([`[${group}]`, '', '', '', '', '', '', '', '', '', '', '']);
    }
    lines.push([
      r.label,
      fmtNum(r.eventsPerSec),
      fmtMs(r.p50),
      fmtMs(r.p99),
      fmtRss(r.rssMb),
      r.ref?.label ?? '-',
      fmtNum(r.ref?.eventsPerSec),
      fmtMs(r.ref?.p50),
      fmtMs(r.ref?.p99),
      r.ratio === undefined || Number.isNaN(r.ratio) ? '-' : `${r.ratio.toFixed(2)}×`,
      r.target?.text ?? '',
      r.target ? (r.target.pass === null ? 'n/a' : r.target.pass ? 'PASS' : 'MISS') : '',
    ]);
  }
  const widths = header.map((_, i) => Math.max(...lines.filter((_, j) => !groupRows.includes(j)).map((l) => (l[i] ?? '').length)));
  const numeric = new Set([1, 2, 3, 6, 7, 8, 9]);
  return lines
    .map((l, j) =>
      groupRows.includes(j)
        ? (l[0] ?? '')
        : l
            .map((c, i) => (numeric.has(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
            .join('  ')
            .trimEnd(),
    )
    .join('\n');
}

export interface RunInfo {
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly profile: 'quick' | 'full';
  readonly seed: number;
  readonly sizes: readonly number[];
  readonly command: string;
  readonly machine: { cpus: number; cpuModel: string; memGb: number; node: string; postgres?: string };
  readonly notes: string[];
}

export function machineInfo(): RunInfo['machine'] {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model ?? 'unknown', memGb: Math.round(totalmem() / 2 ** 30), node: process.version };
}

/** bench/results/<date>.json: the latest run of the day. */
export function writeResults(info: RunInfo, rows: readonly Row[], table: string): string {
  const dir = join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const date = info.startedAt.slice(0, 10);
  const file = join(dir, `${date}.json`);
  const body = JSON.stringify({ ...info, rows, table: table.split('\n') }, null, 2);
  writeFileSync(file, `${body}\n`);
  return file;
}
