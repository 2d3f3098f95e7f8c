import { createHash } from 'node:crypto';
import { ProblemException } from '@regstream/http';
import { UnknownModelError } from '@regstream/projections';
import type { Request, Response } from 'express';

function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/**
 * Sends a JSON read-model answer with a strong ETag over its content; a matching If-None-Match gets
 * 304 without a body. Clients must revalidate (no-cache), so they never show stale read models.
 */
export function sendJson(req: Request, res: Response, body: unknown): void {
  const text = JSON.stringify(body);
  const etag = `"${createHash('sha256').update(text).digest('base64url').slice(0, 32)}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Cache-Control', 'no-cache');
  if (matches(req.headers['if-none-match'], etag)) {
    res.status(304).end();
    return;
  }
  res.status(200).type('application/json').send(text);
}

/** Maps read-model errors to problems. */
export async function answer<T>(req: Request, res: Response, fn: () => Promise<T>): Promise<void> {
  try {
    sendJson(req, res, await fn());
  } catch (e) {
    if (e instanceof UnknownModelError) throw new ProblemException(400, 'validation', 'Request failed validation', e.message, [{ path: 'query.model', message: e.message }]);
    throw e;
  }
}
