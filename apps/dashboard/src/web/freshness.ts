import type { Freshness } from './api.js';
import { $ } from './dom.js';
import { relative } from './format.js';

/** How far the read models have got, from the last response that said. */
export function showFreshness(f: Freshness | undefined): void {
  if (!f) return;
  const el = $('freshness');
  el.textContent = `Read models at position ${f.position ?? '—'}${f.updatedAt ? `, updated ${relative(f.updatedAt)}` : ''}`;
  if (f.updatedAt) el.title = f.updatedAt;
}
