import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { type ApiKeyService, hasScope, type Principal, type Scope } from './api-keys';
import { ProblemException } from './problem';
import type { RateLimiter } from './rate-limit';

export const API_KEYS = Symbol('API_KEYS');
export const RATE_LIMITER = Symbol('RATE_LIMITER');
const SCOPE_KEY = 'regstream:scope';
const PUBLIC_KEY = 'regstream:public';

/** The scope an endpoint needs; `admin` satisfies any. */
export const RequireScope = (scope: Scope) => SetMetadata(SCOPE_KEY, scope);
/** Health, metrics and docs need no key. */
export const Public = () => SetMetadata(PUBLIC_KEY, true);

export interface AuthedRequest extends Request {
  principal?: Principal;
}

export const CurrentPrincipal = createParamDecorator((_d: unknown, ctx: ExecutionContext): Principal => {
  const p = ctx.switchToHttp().getRequest<AuthedRequest>().principal;
  if (!p) throw new ProblemException(401, 'unauthorized', 'Authentication required');
  return p;
});

export function presentedKey(req: Request): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const header = req.headers['x-api-key'];
  if (typeof header === 'string') return header.trim();
  // EventSource in browsers cannot set headers; SSE endpoints accept the key as a query parameter.
  const q = (req.query as Record<string, unknown> | undefined)?.['api_key'];
  return typeof q === 'string' ? q : null;
}

/** Authenticates by API key, checks the endpoint's scope, then applies the per-key rate limit. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(API_KEYS) private readonly keys: ApiKeyService,
    @Inject(RATE_LIMITER) private readonly limiter: RateLimiter,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC_KEY, targets)) return true;
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    const key = presentedKey(req);
    if (!key) throw new ProblemException(401, 'unauthorized', 'API key required', 'send Authorization: Bearer <key>', [], {}, { 'WWW-Authenticate': 'Bearer' });
    const principal = await this.keys.verify(key);
    if (!principal) throw new ProblemException(401, 'unauthorized', 'Invalid API key', undefined, [], {}, { 'WWW-Authenticate': 'Bearer' });
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(SCOPE_KEY, targets) ?? 'read';
    if (!hasScope(principal, scope)) throw new ProblemException(403, 'forbidden', 'Missing scope', `this endpoint needs the '${scope}' scope`);
    const verdict = await this.limiter.take(principal.keyId);
    const res = ctx.switchToHttp().getResponse<{ setHeader(k: string, v: string): void }>();
    res.setHeader('RateLimit-Limit', String(verdict.limit));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, verdict.remaining)));
    if (!verdict.allowed) {
      throw new ProblemException(429, 'rate-limited', 'Too many requests', `limit ${verdict.limit} per minute`, [], {}, { 'Retry-After': String(verdict.retryAfterSeconds) });
    }
    req.principal = principal;
    return true;
  }
}
