import { Body, Controller, Delete, Get, Headers, HttpCode, Inject, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, RequireScope, validationProblem } from '@regstream/http';
import type { Request, Response } from 'express';
import { FeedHub } from '../deliveries/delivery.service';
import { ALERTS_OPTIONS, type AlertsOptions } from '../options';
import { AlertsRepository, WEBHOOK_TYPES } from '../repository';
import { SubscriptionsService } from './subscriptions.service';

const SUBSCRIPTION_BODY: SchemaObject = {
  type: 'object',
  required: ['name', 'rule', 'channel'],
  properties: {
    name: { type: 'string', maxLength: 200 },
    filters: {
      type: 'object',
      properties: {
        jurisdictions: { type: 'array', items: { type: 'string' } },
        instruments: { type: 'array', items: { type: 'string' } },
        eventTypes: { type: 'array', items: { type: 'string' } },
        dimensions: { type: 'array', items: { type: 'string' } },
      },
    },
    rule: {
      oneOf: [
        { type: 'object', properties: { kind: { type: 'string', enum: ['event'] } } },
        {
          type: 'object',
          properties: {
            kind: { type: 'string', enum: ['divergence'] },
            scope: { enum: ['pair', 'dimension', 'global'] },
            a: { type: 'string' },
            b: { type: 'string' },
            dimension: { type: 'string' },
            crosses: { type: 'number' },
            movesBy: { type: 'number' },
          },
        },
        { type: 'object', properties: { kind: { type: 'string', enum: ['deadline'] }, daysBefore: { type: 'number' } } },
      ],
    },
    channel: {
      oneOf: [
        { type: 'object', properties: { kind: { type: 'string', enum: ['webhook'] }, url: { type: 'string' } } },
        { type: 'object', properties: { kind: { type: 'string', enum: ['sse'] } } },
        { type: 'object', properties: { kind: { type: 'string', enum: ['digest'] }, url: { type: 'string' } } },
      ],
    },
  },
};

@ApiTags('subscriptions')
@ApiBearerAuth()
@Controller('v1/subscriptions')
export class SubscriptionsController {
  constructor(
    private readonly subscriptions: SubscriptionsService,
    private readonly repo: AlertsRepository,
    private readonly feeds: FeedHub,
    @Inject(ALERTS_OPTIONS) private readonly options: AlertsOptions,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope('subscriptions:manage')
  @ApiOperation({ summary: 'Create a subscription; the response carries its whsec_ signing secret (shown only here and on rotation)' })
  @ApiBody({ schema: SUBSCRIPTION_BODY })
  @ApiResponse({ status: 422, description: 'Validation failed (every failing field path is named), or the webhook URL is refused' })
  create(@CurrentPrincipal() p: Principal, @Body() body: unknown): Promise<Record<string, unknown>> {
    return this.subscriptions.create(p.principal, body);
  }

  @Get()
  @RequireScope('subscriptions:manage')
  @ApiOperation({ summary: "The caller's subscriptions" })
  async list(@CurrentPrincipal() p: Principal): Promise<{ subscriptions: Record<string, unknown>[] }> {
    return { subscriptions: await this.subscriptions.list(p.principal) };
  }

  @Get(':id')
  @RequireScope('subscriptions:manage')
  @ApiResponse({ status: 404, description: 'No such subscription of this principal' })
  get(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<Record<string, unknown>> {
    return this.subscriptions.get(id, p.principal);
  }

  @Patch(':id')
  @RequireScope('subscriptions:manage')
  @ApiOperation({ summary: 'Change name, filters, rule, channel, or status (active | paused; active re-enables after a 410)' })
  update(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown): Promise<Record<string, unknown>> {
    return this.subscriptions.update(id, p.principal, body);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('subscriptions:manage')
  async remove(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<void> {
    await this.subscriptions.remove(id, p.principal);
  }

  @Post(':id/rotate-secret')
  @HttpCode(200)
  @RequireScope('subscriptions:manage')
  @ApiOperation({ summary: 'New signing secret; the previous one keeps signing (second signature) for graceSeconds (default 24 h)' })
  rotate(@CurrentPrincipal() p: Principal, @Param('id') id: string, @Body() body: unknown): Promise<Record<string, unknown>> {
    return this.subscriptions.rotateSecret(id, p.principal, body);
  }

  @Get(':id/feed')
  @RequireScope('subscriptions:manage')
  @ApiOperation({ summary: "Server-sent events of this subscription's matches; resumes after Last-Event-ID (or ?after=)" })
  @ApiHeader({ name: 'Last-Event-ID', required: false })
  async feed(
    @CurrentPrincipal() p: Principal,
    @Param('id') id: string,
    @Headers('last-event-id') lastEventId: string | undefined,
    @Query('after') after: string | undefined,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const sub = await this.subscriptions.owned(id, p.principal);
    const resume = lastEventId ?? after;
    if (resume !== undefined && !/^\d{1,18}$/.test(resume)) throw validationProblem([{ path: lastEventId !== undefined ? 'header.Last-Event-ID' : 'query.after', message: 'expected a feed event id' }], 400);
    let cursor = resume !== undefined ? Number(resume) : await this.repo.lastMatchSeq(sub.id);
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    res.write('retry: 3000\n\n');
    let closed = false;
    let busy = false;
    let again = false;
    const pump = async (): Promise<void> => {
      if (closed) return;
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      try {
        do {
          again = false;
          const rows = await this.repo.matchesAfter(sub.id, cursor, 500);
          for (const r of rows) {
            if (closed) return;
            res.write(`id: ${r.seq}\nevent: ${WEBHOOK_TYPES[r.kind]}\ndata: ${r.body}\n\n`);
            cursor = Number(r.seq);
          }
          if (rows.length === 500) again = true;
        } while (again && !closed);
      } catch {
        // the next poll tries again
      } finally {
        busy = false;
      }
    };
    const off = this.feeds.on(sub.id, () => void pump());
    const poll = setInterval(() => void pump(), this.options.feedPollMs);
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), this.options.feedHeartbeatMs);
    req.on('close', () => {
      closed = true;
      off();
      clearInterval(poll);
      clearInterval(heartbeat);
    });
    await pump();
  }
}
