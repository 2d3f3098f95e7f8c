import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { FieldIssue } from '@regstream/domain';
import { CurrentPrincipal, type Principal, ProblemException, RequireScope, validationProblem } from '@regstream/http';
import { type AttemptRow, AlertsRepository, type DeliveryRow } from '../repository';
import { notFound } from '../subscriptions/subscriptions.service';
import { DeliveryService } from './delivery.service';

const STATUSES = ['pending', 'sending', 'delivered', 'dead', 'gone', 'cancelled'];

function view(d: DeliveryRow, attempts: readonly AttemptRow[]): Record<string, unknown> {
  return {
    id: d.id,
    subscriptionId: d.subscription_id,
    kind: d.kind,
    channel: d.channel,
    status: d.status,
    attemptCount: d.attempts,
    maxAttempts: d.max_attempts,
    ...(d.status === 'pending' ? { nextAttemptAt: d.next_attempt_at } : {}),
    lastStatusCode: d.last_status_code,
    lastError: d.last_error,
    lastLatencyMs: d.last_latency_ms,
    createdAt: d.created_at,
    updatedAt: d.updated_at,
    deliveredAt: d.delivered_at,
    ...(d.event_id ? { eventId: d.event_id } : {}),
    payload: JSON.parse(d.body) as unknown,
    attempts: attempts.map((a) => ({ attempt: a.attempt, at: a.started_at, statusCode: a.status_code, latencyMs: a.latency_ms, error: a.error })),
  };
}

function encodeCursor(d: DeliveryRow): string {
  return Buffer.from(`${d.created_at}|${d.id}`).toString('base64url');
}

function decodeCursor(s: string): { createdAt: string; id: string } | null {
  const [createdAt, id] = Buffer.from(s, 'base64url').toString('utf8').split('|');
  return createdAt && id ? { createdAt, id } : null;
}

@ApiTags('deliveries')
@ApiBearerAuth()
@Controller('v1/deliveries')
export class DeliveriesController {
  constructor(
    private readonly repo: AlertsRepository,
    private readonly deliveries: DeliveryService,
  ) {}

  @Get()
  @RequireScope('subscriptions:manage')
  @ApiOperation({ summary: "The caller's delivery log, newest first, with every attempt's status code and latency" })
  @ApiQuery({ name: 'subscriptionId', required: false })
  @ApiQuery({ name: 'status', required: false, enum: STATUSES })
  @ApiQuery({ name: 'limit', required: false })
  @ApiQuery({ name: 'cursor', required: false })
  async list(
    @CurrentPrincipal() p: Principal,
    @Query('subscriptionId') subscriptionId: string | undefined,
    @Query('status') status: string | undefined,
    @Query('limit') limitRaw: string | undefined,
    @Query('cursor') cursorRaw: string | undefined,
  ): Promise<{ deliveries: Record<string, unknown>[]; next: string | null }> {
    const errors: FieldIssue[] = [];
    const limit = limitRaw === undefined ? 50 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) errors.push({ path: 'query.limit', message: 'expected an integer from 1 to 200' });
    if (status !== undefined && !STATUSES.includes(status)) errors.push({ path: 'query.status', message: `expected one of ${STATUSES.join(', ')}` });
    const before = cursorRaw ? decodeCursor(cursorRaw) : undefined;
    if (before === null) errors.push({ path: 'query.cursor', message: 'not a cursor returned by this API' });
    if (errors.length) throw validationProblem(errors, 400);
    const rows = await this.repo.deliveriesOf(p.principal, {
      ...(subscriptionId ? { subscriptionId } : {}),
      ...(status ? { status } : {}),
      ...(before ? { before } : {}),
      limit,
    });
    const attempts = await this.repo.attemptsOf(rows.map((r) => r.id));
    const last = rows[rows.length - 1];
    return { deliveries: rows.map((r) => view(r, attempts.get(r.id) ?? [])), next: rows.length === limit && last ? encodeCursor(last) : null };
  }

  @Get(':id')
  @RequireScope('subscriptions:manage')
  async get(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<Record<string, unknown>> {
    const d = await this.repo.delivery(id);
    if (!d || d.principal !== p.principal) throw notFound('delivery');
    return view(d, (await this.repo.attemptsOf([id])).get(id) ?? []);
  }

  @Post(':id/redrive')
  @HttpCode(202)
  @RequireScope('subscriptions:manage')
  @ApiOperation({ summary: 'Send a dead-lettered (or gone, or cancelled) delivery again with a fresh round of attempts' })
  @ApiResponse({ status: 409, description: 'Not in a re-drivable state, or its subscription is not active' })
  async redrive(@CurrentPrincipal() p: Principal, @Param('id') id: string): Promise<Record<string, unknown>> {
    const d = await this.repo.delivery(id);
    if (!d || d.principal !== p.principal) throw notFound('delivery');
    const sub = await this.repo.subscription(d.subscription_id);
    if (!sub) throw new ProblemException(409, 'conflict', 'Subscription deleted', 'the subscription of this delivery no longer exists');
    if (sub.status !== 'active') {
      throw new ProblemException(409, 'conflict', 'Subscription not active', `the subscription is ${sub.status}; PATCH it to {"status":"active"} first`);
    }
    if (!(await this.deliveries.redrive(id, sub))) {
      throw new ProblemException(409, 'conflict', 'Not re-drivable', `delivery is ${d.status}; only dead, gone or cancelled deliveries can be re-driven`);
    }
    const after = await this.repo.delivery(id);
    return view(after ?? d, (await this.repo.attemptsOf([id])).get(id) ?? []);
  }
}
