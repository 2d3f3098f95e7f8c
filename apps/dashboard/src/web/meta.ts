/** The codebook and event catalogue, served by the dashboard module as /assets/meta.json. */

export interface CodebookLevel {
  readonly id: string;
  readonly rank?: number;
  readonly label: string;
  readonly definition: string;
}

export interface CodebookDimension {
  readonly id: string;
  readonly label: string;
  readonly scale: 'ordinal' | 'nominal' | 'set';
  readonly weight: number;
  readonly levels: readonly CodebookLevel[];
}

export interface Codebook {
  readonly version: string;
  readonly methodologyVersion: string;
  readonly dimensions: readonly CodebookDimension[];
}

export interface Meta {
  readonly codebook: Codebook;
  readonly eventTypes: readonly string[];
  readonly milestoneTypes: readonly string[];
}

let meta: Meta | null = null;

export async function loadMeta(): Promise<Meta> {
  if (meta) return meta;
  const res = await fetch('/assets/meta.json', { headers: { Accept: 'application/json' } });
  if (!res.ok) throw new Error(`could not load the codebook (${res.status})`);
  meta = (await res.json()) as Meta;
  return meta;
}

export function currentMeta(): Meta | null {
  return meta;
}
