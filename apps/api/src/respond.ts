import { createHash } from 'node:crypto';
import { ProblemException } from '@regstream/http';
import { UnknownModelError } from '@regstream/projections';
import type { Request, Response } from 'express';

function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** A strong ETag over the exact bytes sent (SHA-1: a validator, not a signature; a few µs per answer). */
function contentTag(text: string): string {
  return `"${createHash('sha1').update(text).digest('base64url')}"`;
}

/**
 * The question a request asks: path and query parameters in a canonical order, without the API key
 * (which does not change the answer).
 */
export function canonicalRequest(req: Request): string {
  const q = req.query as Record<string, unknown>;
  const params = Object.keys(q)
    .filter((k) => k !== 'api_key')
    .sort()
    .map((k) => `${k}=${JSON.stringify(q[k])}`);
  return `${req.path}?${params.join('&')}`;
}

/**
 * ETags already sent, by read-model version and question. A revalidation whose model has not changed
 * since is answered 304 from here without running the query. Bounded; the oldest entries go first.
 */
export class RevalidationCache {
  private readonly tags = new Map<string, string>();

  constructor(private readonly max = 10_000) {}

  get(version: string, question: string): string | undefined {
    return this.tags.get(`${version}\u0000${question}`);
  }

  set(version: string, question: string, etag: string): void {
    const key = `${version}\u0000${question}`;
    this.tags.delete(key);
    this.tags.set(key, etag);
    if (this.tags.size > this.max) {
      const oldest = this.tags.keys().next();
      if (!oldest.done) this.tags.delete(oldest.value);
    }
  }

  get size(): number {
    return this.tags.size;
  }
}

/**
 * How a conditional request can be answered without running its query: the read model's version
 * (every commit that changes the model changes it). Only for answers that are a function of the model
 * and the request alone: not for a default `asOf` (now), which changes with the clock.
 */
export interface Revalidation {
  readonly cache: RevalidationCache;
  version(): Promise<string>;
}

/**
 * Sends a JSON read-model answer with a strong ETag over its content; a matching If-None-Match gets
 * 304 without a body. Clients must revalidate (no-cache), so they never show stale read models.
 * Written with `res.end`: Express's `send` would parse the content type again and look at the
 * request's freshness again, work done here already.
 */
export function sendJson(req: Request, res: Response, body: unknown): string {
  const text = JSON.stringify(body);
  const etag = contentTag(text);
  if (matches(req.headers['if-none-match'], etag)) {
    notModified(res, etag);
    return etag;
  }
  res.statusCode = 200;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  // Encoded once: its length and the bytes written are the same buffer.
  const bytes = Buffer.from(text, 'utf8');
  res.setHeader('Content-Length', bytes.length);
  if (req.method === 'HEAD') res.end();
  else res.end(bytes);
  return etag;
}

function notModified(res: Response, etag: string): void {
  res.statusCode = 304;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  res.end();
}

/**
 * Runs a read-model query and sends its answer (see sendJson); maps read-model errors to problems.
 * With `revalidation`, a request carrying If-None-Match is first checked against the model's version:
 * if its ETag was sent for this question at this version, the answer is 304 and the query never runs.
 * The version is read before the query, so an answer can only be filed under an older version than
 * the one it reflects, which never makes a revalidation answer 304 wrongly.
 */
export async function answer<T>(
  req: Request,
  res: Response,
  fn: () => Promise<T>,
  revalidation?: Revalidation | null,
): Promise<void> {
  try {
    const inm = req.headers['if-none-match'];
    if (!revalidation || !inm) {
      sendJson(req, res, await fn());
      return;
    }
    const version = await revalidation.version();
    const question = canonicalRequest(req);
    const known = revalidation.cache.get(version, question);
    if (known !== undefined && matches(inm, known)) {
      notModified(res, known);
      return;
    }
    revalidation.cache.set(version, question, sendJson(req, res, await fn()));
  } catch (e) {
    if (e instanceof UnknownModelError) {
      throw new ProblemException(400, 'validation', 'Request failed validation', e.message, [{ path: 'query.model', message: e.message }]);
    }
    throw e;
  }
}
