/** Latency samples and their percentiles. */

/** Nearest-rank percentile of an ascending array: the smallest value with at least p% of samples at or below it. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 100) return sorted[sorted.length - 1] as number;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)] as number;
}

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** Collects samples (milliseconds) in a growable typed array: no per-sample allocation on the hot path. */
export class Recorder {
  private buf = new Float64Array(1024);
  private n = 0;

  record(ms: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  merge(other: Recorder): void {
    for (const v of other.values()) this.record(v);
  }

  values(): Float64Array {
    return this.buf.subarray(0, this.n);
  }

  summary(): Summary {
    const s = Float64Array.from(this.values()).sort();
    let sum = 0;
    for (const v of s) sum += v;
    return {
      count: s.length,
      min: s.length ? (s[0] as number) : Number.NaN,
      mean: s.length ? sum / s.length : Number.NaN,
      p50: percentile(s, 50),
      p90: percentile(s, 90),
      p99: percentile(s, 99),
      max: s.length ? (s[s.length - 1] as number) : Number.NaN,
    };
  }
}

/** Log-linear buckets for a printable histogram (about 4% resolution). */
export function histogram(values: ArrayLike<number>, bucketsPerDecade = 5): { le: number; count: number }[] {
  const out = new Map<number, number>();
  for (let i = 0; i < values.length; i++) {
    const v = Math.max(values[i] as number, 0.001);
    const b = Math.ceil(Math.log10(v) * bucketsPerDecade) / bucketsPerDecade;
    out.set(b, (out.get(b) ?? 0) + 1);
  }
  return [...out.entries()].sort((a, b) => a[0] - b[0]).map(([b, count]) => ({ le: Number(Math.pow(10, b).toPrecision(3)), count }));
}

/** Median of a few repeated measurements (the table shows the median run where a figure is repeated). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return percentile(s, 50);
}
