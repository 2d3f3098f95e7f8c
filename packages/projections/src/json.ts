function sortKeys(_key: string, v: unknown): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  let sorted = true;
  for (let i = 1; i < keys.length; i++) {
    if ((keys[i - 1] as string) > (keys[i] as string)) {
      sorted = false;
      break;
    }
  }
  if (sorted) return o;
  const out: Record<string, unknown> = {};
  for (const k of keys.sort()) out[k] = o[k];
  return out;
}

/** Canonical JSON: object keys sorted, so equal values give equal text on every path. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, sortKeys) ?? 'null';
}

export function parseJson<T>(v: unknown): T {
  return (typeof v === 'string' ? JSON.parse(v) : v) as T;
}
