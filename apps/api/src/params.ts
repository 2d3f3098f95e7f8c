import { CODEBOOK_V1, type FieldIssue, InstrumentId, JurisdictionCode, toEpochMs } from '@regstream/domain';
import { validationProblem } from '@regstream/http';
import { MODEL_ID, MODEL_NAME } from '@regstream/projections';

const DIMENSIONS = new Set(CODEBOOK_V1.dimensions.map((d) => d.id));

/**
 * Reads and checks query parameters; every problem is collected and reported together as a 400
 * problem naming `query.<param>`.
 */
export class QueryParams {
  readonly errors: FieldIssue[] = [];

  constructor(private readonly q: Record<string, unknown>) {}

  private raw(name: string): string | undefined {
    const v = this.q[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.fail(name, 'expected a single value');
      return undefined;
    }
    return v;
  }

  fail(name: string, message: string): void {
    this.errors.push({ path: `query.${name}`, message });
  }

  instant(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined || v === '') return undefined;
    if (toEpochMs(v) === null) this.fail(name, 'expected a date (YYYY-MM-DD) or an RFC 3339 date-time');
    return v;
  }

  private list(name: string, check: (s: string) => boolean, what: string, max = 50, aliases: string[] = []): string[] | undefined {
    const key = [name, ...aliases].find((k) => this.q[k] !== undefined) ?? name;
    const v = this.raw(key);
    if (v === undefined || v === '') return undefined;
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length > max) this.fail(key, `at most ${max} values`);
    const bad = items.filter((s) => !check(s));
    if (bad.length) this.fail(key, `not ${what}: ${bad.slice(0, 5).join(', ')}`);
    return [...new Set(items)];
  }

  jurisdictions(name = 'jurisdictions'): string[] | undefined {
    return this.list(name, (s) => JurisdictionCode.safeParse(s).success, 'a jurisdiction code (EU, US, US-CA, INTL-OECD...)', 50, name === 'jurisdictions' ? ['jurisdiction'] : []);
  }

  jurisdiction(name: string, required = false): string | undefined {
    const v = this.raw(name);
    if (v === undefined || v === '') {
      if (required) this.fail(name, 'required');
      return undefined;
    }
    if (!JurisdictionCode.safeParse(v).success) this.fail(name, 'not a jurisdiction code (EU, US, US-CA, INTL-OECD...)');
    return v;
  }

  dimensions(name = 'dimension', max = 20): string[] | undefined {
    return this.list(name, (s) => DIMENSIONS.has(s), `a codebook ${CODEBOOK_V1.version} dimension`, max, name === 'dimension' ? ['dimensions'] : []);
  }

  instruments(name = 'instrument'): string[] | undefined {
    return this.list(name, (s) => InstrumentId.safeParse(s).success, 'an instrument id', 100, name === 'instrument' ? ['instruments'] : []);
  }

  oneOf<T extends string>(name: string, values: readonly T[]): T | undefined {
    const v = this.raw(name);
    if (v === undefined || v === '') return undefined;
    if (!(values as readonly string[]).includes(v)) this.fail(name, `expected one of ${values.join(', ')}`);
    return v as T;
  }

  oneOfList<T extends string>(name: string, values: readonly T[]): T[] | undefined {
    return this.list(name, (s) => (values as readonly string[]).includes(s), `one of ${values.join(', ')}`, values.length) as T[] | undefined;
  }

  int(name: string, min: number, max: number): number | undefined {
    const v = this.raw(name);
    if (v === undefined || v === '') return undefined;
    if (!/^-?\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) {
      this.fail(name, `expected an integer from ${min} to ${max}`);
      return undefined;
    }
    return Number(v);
  }

  model(): string | undefined {
    const v = this.raw('model');
    if (v === undefined || v === '') return undefined;
    if (!MODEL_ID.test(v) && !MODEL_NAME.test(v)) this.fail('model', 'not a read-model id or name');
    return v;
  }

  /** Valid time, known time and model, common to every read endpoint. */
  bitemporal(): { asOf?: string; knownAt?: string; model?: string } {
    const asOf = this.instant('asOf');
    const knownAt = this.instant('knownAt');
    const model = this.model();
    return { ...(asOf !== undefined ? { asOf } : {}), ...(knownAt !== undefined ? { knownAt } : {}), ...(model !== undefined ? { model } : {}) };
  }

  /** Throws the collected problems, if any. */
  check(): void {
    if (this.errors.length) throw validationProblem(this.errors, 400);
  }
}
