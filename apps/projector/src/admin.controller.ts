import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiTags } from '@nestjs/swagger';
import { toEpochMs } from '@regstream/domain';
import type { FieldIssue } from '@regstream/domain';
import { ProblemException, RequireScope, validationProblem } from '@regstream/http';
import { type DeadLetter, MODEL_NAME } from '@regstream/projections';
import { ProjectorService } from './projector.service';

const STATUSES = ['open', 'resolved', 'discarded', 'all'] as const;

function deadLetterId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) throw validationProblem([{ path: 'path.id', message: 'expected a dead-letter id' }], 400);
  return Number(raw);
}

/** Operator endpoints: models, checkpoints, dead letters, rebuilds. Need the `admin` scope. */
@ApiTags('projector (operators)')
@ApiBearerAuth()
@RequireScope('admin')
@Controller('v1/admin')
export class ProjectorAdminController {
  constructor(private readonly service: ProjectorService) {}

  @Get('projections')
  @ApiOperation({ summary: 'Read models, the live version, freshness, consumer statistics and open dead letters' })
  async projections(): Promise<Record<string, unknown>> {
    const p = this.service.projector;
    const active = await p.activeModel();
    const checkpoints = await p.db.query<Record<string, unknown>>(
      `SELECT version, partition_id, msg_offset, position, updated_at FROM rm_checkpoints WHERE projector = ? ORDER BY version, partition_id`,
      [p.name],
    );
    return {
      active,
      models: await p.models(),
      freshness: await p.freshness(active),
      checkpoints: checkpoints.map((c) => ({ version: c['version'], partition: c['partition_id'], offset: c['msg_offset'], position: c['position'] === null || c['position'] === undefined ? null : String(c['position'] as string | number), updatedAt: c['updated_at'] })),
      deadLetters: (await p.deadLetters({ status: 'open', limit: 1000 })).length,
      consumer: this.service.stats,
      rebuild: this.service.rebuildStatus(),
    };
  }

  @Get('dead-letters')
  @ApiOperation({ summary: 'Dead letters: poison events with their error and payload' })
  @ApiQuery({ name: 'status', required: false, enum: STATUSES })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({ description: '{ deadLetters: [{ id, eventId, partition, offset, error, payload, attempts, status, ... }] }' })
  async list(@Query('status') status?: string, @Query('limit') limit?: string): Promise<{ deadLetters: DeadLetter[] }> {
    const errors: FieldIssue[] = [];
    if (status !== undefined && !(STATUSES as readonly string[]).includes(status)) errors.push({ path: 'query.status', message: `expected one of ${STATUSES.join(', ')}` });
    if (limit !== undefined && (!/^\d{1,4}$/.test(limit) || Number(limit) < 1 || Number(limit) > 1000)) errors.push({ path: 'query.limit', message: 'expected an integer from 1 to 1000' });
    if (errors.length) throw validationProblem(errors, 400);
    return {
      deadLetters: await this.service.projector.deadLetters({
        status: (status ?? 'open') as DeadLetter['status'] | 'all',
        ...(limit !== undefined ? { limit: Number(limit) } : {}),
      }),
    };
  }

  @Post('dead-letters/:id/retry')
  @HttpCode(200)
  @ApiParam({ name: 'id' })
  @ApiOperation({ summary: 'Run a dead letter through the handlers again; applied and resolved on success' })
  async retry(@Param('id') raw: string): Promise<{ ok: boolean; deadLetter: DeadLetter | null; error?: string }> {
    const r = await this.service.projector.retryDeadLetter(deadLetterId(raw));
    if (!r.deadLetter) throw new ProblemException(404, 'not-found', 'No such dead letter');
    return r;
  }

  @Post('dead-letters/:id/discard')
  @HttpCode(200)
  @ApiParam({ name: 'id' })
  @ApiOperation({ summary: 'Mark an open dead letter as deliberately skipped' })
  async discard(@Param('id') raw: string): Promise<{ discarded: boolean }> {
    return { discarded: await this.service.projector.discardDeadLetter(deadLetterId(raw)) };
  }

  @Get('checksum')
  @ApiOperation({ summary: 'Digest of every read model of a model (the live one by default)' })
  @ApiQuery({ name: 'model', required: false })
  async checksum(@Query('model') model?: string): Promise<unknown> {
    if (model !== undefined && !/^(?:v\d{1,6}|x_[a-z][a-z0-9_]{0,39})$/.test(model)) throw validationProblem([{ path: 'query.model', message: 'not a model id' }], 400);
    return this.service.projector.checksum(model);
  }

  @Post('rebuild')
  @HttpCode(202)
  @ApiOperation({ summary: 'Rebuild the read models from the event store into a new version (switched live when caught up) or a named model' })
  @ApiBody({ schema: { type: 'object', properties: { name: { type: 'string' }, knownAt: { type: 'string' }, untilPosition: { type: 'string' }, replace: { type: 'boolean' } } } })
  rebuild(@Body() body: unknown): { started: boolean } {
    const b = (body ?? {}) as Record<string, unknown>;
    const errors: FieldIssue[] = [];
    if (b['name'] !== undefined && (typeof b['name'] !== 'string' || !MODEL_NAME.test(b['name']))) errors.push({ path: 'name', message: 'lower-case letters, digits and _' });
    if (b['knownAt'] !== undefined && (typeof b['knownAt'] !== 'string' || toEpochMs(b['knownAt']) === null)) errors.push({ path: 'knownAt', message: 'expected a date or date-time' });
    if (b['untilPosition'] !== undefined && (typeof b['untilPosition'] !== 'string' || !/^\d{1,19}$/.test(b['untilPosition']))) errors.push({ path: 'untilPosition', message: 'expected a log position' });
    if (errors.length) throw validationProblem(errors);
    const started = this.service.startRebuild({
      ...(typeof b['name'] === 'string' ? { name: b['name'] } : {}),
      ...(typeof b['knownAt'] === 'string' ? { knownAt: b['knownAt'] } : {}),
      ...(typeof b['untilPosition'] === 'string' ? { untilPosition: b['untilPosition'] } : {}),
      ...(b['replace'] === true ? { replace: true } : {}),
    });
    if (!started.started) throw new ProblemException(409, 'conflict', 'A rebuild is already running');
    return started;
  }

  @Get('rebuild')
  @ApiOperation({ summary: 'Progress of the last rebuild: phase, events/s and ETA' })
  rebuildStatus(): unknown {
    return { rebuild: this.service.rebuildStatus() };
  }
}
