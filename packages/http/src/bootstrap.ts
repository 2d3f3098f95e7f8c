import { isUtf8 } from 'node:buffer';
import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import { json } from 'express';
import { fromParserError, ProblemDetailsFilter } from './problem';

export interface HttpSetupOptions {
  readonly title: string;
  readonly bodyLimit?: string;
  /** Extra OpenAPI schemas (JSON Schema exported from the domain). */
  readonly schemas?: Record<string, unknown>;
}

/** Security headers for every response (the dashboard included). */
export function securityHeaders(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=()');
  res.setHeader(
    'Content-Security-Policy',
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  );
  next();
}

/** The common HTTP setup of every regstream app: body limits, problem+json, headers, OpenAPI at /docs. */
export function setupHttp(app: INestApplication, opts: HttpSetupOptions): void {
  app.use(securityHeaders);
  const parse = json({
    limit: opts.bodyLimit ?? '5mb',
    type: ['application/json', 'application/*+json'],
    // JSON text is UTF-8 (RFC 8259 §8.1): invalid bytes are refused (400), not turned into U+FFFD and accepted.
    verify: (_req, _res, buf, encoding) => {
      if (encoding.toLowerCase() === 'utf-8' && !isUtf8(buf)) throw Object.assign(new Error('the body is not valid UTF-8'), { status: 400, type: 'entity.parse.failed' });
    },
  });
  // Parser errors become problems here; Nest would otherwise turn them into a bare 400.
  app.use((req: Request, res: Response, next: NextFunction) => parse(req, res, (err?: unknown) => next(err === undefined ? undefined : (fromParserError(err) ?? err))));
  app.useGlobalFilters(new ProblemDetailsFilter());
  app.enableShutdownHooks();
  const config = new DocumentBuilder().setTitle(opts.title).setVersion('1').addBearerAuth().build();
  const doc = SwaggerModule.createDocument(app, config);
  doc.components = { ...doc.components, schemas: { ...(doc.components?.schemas ?? {}), ...((opts.schemas ?? {}) as Record<string, object>) } };
  SwaggerModule.setup('docs', app, doc, { jsonDocumentUrl: 'docs/openapi.json' });
}
