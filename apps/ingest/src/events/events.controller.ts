import { createHash } from 'node:crypto';
import { Body, Controller, Get, Headers, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { type AppendResult, ConcurrencyError, decodeCheckpoint, encodeCheckpoint, type EventStore, IdempotencyKeyReusedError, START } from '@regstream/event-store';
import { type AuthedRequest, ProblemException, RequireScope, validationProblem } from '@regstream/http';
import { CLOCK, EVENT_STORE } from '@regstream/runtime';
import type { Response } from 'express';
import { IngestValidationError } from '../ingestor';
import { IngestService } from './ingest.service';

/** Canonical JSON, so the same request hashes the same whatever its key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventsController {
  constructor(
    private readonly ingest: IngestService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(CLOCK) private readonly clock: () => Date,
  ) {}

  @Post()
  @HttpCode(201)
  @RequireScope('events:write')
  @ApiOperation({ summary: 'Append one event, or a batch of up to 1,000 (all or nothing)' })
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'Repeat a request safely: the original positions come back and nothing is written' })
  @ApiBody({ schema: { oneOf: [{ $ref: '#/components/schemas/NewEvent' }, { type: 'object', properties: { events: { type: 'array', maxItems: 1000, items: { $ref: '#/components/schemas/NewEvent' } } } }] } })
  @ApiResponse({ status: 201, description: 'Appended; positions in commit order' })
  @ApiResponse({ status: 409, description: 'Expected version conflict' })
  @ApiResponse({ status: 422, description: 'Validation failed; every failing field path is named' })
  async append(
    @Body() body: unknown,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Req() req: AuthedRequest,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ events: AppendResult['events']; written: number; replayed: boolean }> {
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,200}$/.test(idempotencyKey)) {
      throw validationProblem([{ path: 'header.Idempotency-Key', message: 'expected 1-200 visible ASCII characters' }], 400);
    }
    const batch = body !== null && typeof body === 'object' && !Array.isArray(body) && 'events' in body;
    const inputs: unknown[] = Array.isArray(body) ? body : batch ? ((body).events as unknown[]) : [body];
    if (batch && !Array.isArray((body).events)) throw validationProblem([{ path: 'events', message: 'expected an array' }]);
    if (batch && Object.keys(body).length !== 1) throw validationProblem([{ path: '', message: 'a batch body has only the key "events"' }]);
    if (body === null || typeof body !== 'object') throw validationProblem([{ path: '', message: 'expected a JSON object or array' }], 400);
    try {
      const key = idempotencyKey ? `${req.principal?.keyId ?? 'anon'}:${idempotencyKey}` : undefined;
      const result = await this.ingest.ingestor.ingestInput(
        inputs,
        {
          ...(key ? { idempotencyKey: key, requestHash: createHash('sha256').update(canonical(body)).digest('hex') } : {}),
          source: `/regstream/ingest/${req.principal?.principal ?? 'anonymous'}`,
        },
        batch || Array.isArray(body) ? 'events' : '',
      );
      if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
      return { events: result.events, written: result.written, replayed: result.replayed };
    } catch (e) {
      if (e instanceof IngestValidationError) throw validationProblem(e.issues);
      if (e instanceof ConcurrencyError) {
        throw new ProblemException(409, 'version-conflict', 'Expected version conflict', e.message, [], { stream: e.streamId, actualVersion: e.actual });
      }
      if (e instanceof IdempotencyKeyReusedError) {
        throw new ProblemException(422, 'idempotency-key-reused', 'Idempotency key reused', 'this Idempotency-Key was used with a different request body');
      }
      throw e;
    }
  }

  @Get()
  @RequireScope('read')
  @ApiOperation({ summary: 'Page the log in commit order; Accept: application/x-ndjson streams it for export' })
  @ApiQuery({ name: 'after', required: false, description: 'checkpoint from a previous page (opaque)' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'stream', required: false })
  @ApiQuery({ name: 'type', required: false, description: 'comma-separated event types' })
  async list(
    @Query('after') after: string | undefined,
    @Query('limit') limitRaw: string | undefined,
    @Query('stream') stream: string | undefined,
    @Query('type') type: string | undefined,
    @Headers('accept') accept: string | undefined,
    @Res() res: Response,
  ): Promise<void> {
    const errors = [];
    const cp = after === undefined || after === '' ? START : decodeCheckpoint(after);
    if (!cp) errors.push({ path: 'query.after', message: 'not a checkpoint returned by this API' });
    const ndjson = (accept ?? '').includes('application/x-ndjson');
    const limit = limitRaw === undefined ? (ndjson ? Number.MAX_SAFE_INTEGER : 100) : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || (!ndjson && limit > 1000)) errors.push({ path: 'query.limit', message: 'expected an integer from 1 to 1000' });
    if (stream !== undefined && !/^[a-z0-9][a-z0-9._-]{0,199}$/i.test(stream)) errors.push({ path: 'query.stream', message: 'not a stream id' });
    const types = type ? type.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
    if (errors.length || !cp) throw validationProblem(errors, 400);
    const filter = { ...(stream ? { streamId: stream } : {}), ...(types ? { types } : {}) };
    if (!ndjson) {
      const page = await this.store.readAll(cp, limit, filter);
      res.json({ events: page.events, next: encodeCheckpoint(page.checkpoint), asOf: this.clock().toISOString() });
      return;
    }
    // Export: stream page after page without holding the log in memory.
    res.status(200).type('application/x-ndjson');
    let checkpoint = cp;
    let left = limit;
    while (left > 0) {
      const page = await this.store.readAll(checkpoint, Math.min(1000, left), filter);
      if (page.events.length === 0) break;
      for (const e of page.events) res.write(`${JSON.stringify(e)}\n`);
      left -= page.events.length;
      checkpoint = page.checkpoint;
    }
    res.end();
  }
}
