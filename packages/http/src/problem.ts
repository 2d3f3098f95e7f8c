import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { FieldIssue } from '@regstream/domain';
import type { Request, Response } from 'express';

/** RFC 9457 problem details. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  /** Every failing field, by path (e.g. `events[3].data.provision`). */
  readonly errors?: readonly FieldIssue[];
  readonly [extension: string]: unknown;
}

export const PROBLEM_BASE = 'https://regstream.dev/problems/';

export class ProblemException extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail?: string,
    readonly errors?: readonly FieldIssue[],
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail ?? title);
    this.name = 'ProblemException';
  }

  toProblem(instance?: string): ProblemDetails {
    return {
      type: `${PROBLEM_BASE}${this.slug}`,
      title: this.title,
      status: this.status,
      ...(this.detail ? { detail: this.detail } : {}),
      ...(instance ? { instance } : {}),
      ...(this.errors?.length ? { errors: this.errors } : {}),
      ...this.extensions,
    };
  }
}

export const validationProblem = (errors: readonly FieldIssue[], status = 422): ProblemException =>
  new ProblemException(status, 'validation', 'Request failed validation', `${errors.length} field(s) failed validation`, errors);

/** Body-parser errors carry a `type`; map them to problems instead of stack traces. */
export function fromParserError(e: unknown): ProblemException | null {
  const err = e as { type?: string; status?: number; message?: string } | null;
  switch (err?.type) {
    case 'entity.too.large':
      return new ProblemException(413, 'payload-too-large', 'Payload too large', err.message);
    case 'entity.parse.failed':
      return new ProblemException(400, 'malformed-json', 'Malformed JSON body', 'the body is not valid JSON', [{ path: '', message: 'invalid JSON' }]);
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return new ProblemException(415, 'unsupported-encoding', 'Unsupported body encoding', err.message);
    case 'request.aborted':
      return new ProblemException(400, 'request-aborted', 'Request aborted');
    default:
      return null;
  }
}

/** Every error leaves as application/problem+json; 5xx details stay in the log. */
@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Problem');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const res = http.getResponse<Response>();
    const req = http.getRequest<Request>();
    if (res.headersSent) {
      res.end();
      return;
    }
    let problem: ProblemException | null = exception instanceof ProblemException ? exception : fromParserError(exception);
    if (!problem && exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
      const detail = typeof message === 'string' ? message : Array.isArray(message) ? message.join('; ') : exception.message;
      problem = new ProblemException(status, slugFor(status), HttpStatus[status]?.replace(/_/g, ' ').toLowerCase() ?? 'error', detail);
    }
    if (!problem) {
      this.logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
      problem = new ProblemException(500, 'internal', 'Internal server error', 'an unexpected error occurred');
    }
    for (const [k, v] of Object.entries(problem.headers)) res.setHeader(k, v);
    res.status(problem.status).type('application/problem+json').send(JSON.stringify(problem.toProblem(req.originalUrl?.split('?')[0])));
  }
}

function slugFor(status: number): string {
  return (
    ({ 400: 'bad-request', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 405: 'method-not-allowed', 409: 'conflict', 413: 'payload-too-large', 415: 'unsupported-media-type', 429: 'rate-limited' } as Record<number, string>)[status] ??
    'error'
  );
}
