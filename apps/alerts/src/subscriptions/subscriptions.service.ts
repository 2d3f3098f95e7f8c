import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { type FieldIssue, zodIssues } from '@regstream/domain';
import { ProblemException, validationProblem } from '@regstream/http';
import { CLOCK } from '@regstream/runtime';
import type { z } from 'zod';
import { DeliveryService } from '../deliveries/delivery.service';
import { AlertsConsumer } from '../matching/consumer.service';
import { Plan } from '../matching/matcher';
import { ALERTS_OPTIONS, type AlertsOptions } from '../options';
import { AlertsRepository } from '../repository';
import { generateSecret } from '../webhooks/signing';
import { SsrfGuard, WebhookUrlRefused } from '../webhooks/ssrf';
import { type Channel, CreateSubscription, PatchSubscription, publicView, RotateSecret, type Subscription } from './model';

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const parsed = schema.safeParse(body ?? {});
  if (!parsed.success) throw validationProblem(zodIssues('', parsed.error));
  return parsed.data;
}

export const notFound = (what = 'subscription'): ProblemException => new ProblemException(404, 'not-found', `No such ${what}`);

/** Subscriptions of one principal: nobody else can read, change or delete them (404, not 403). */
@Injectable()
export class SubscriptionsService {
  constructor(
    private readonly repo: AlertsRepository,
    private readonly deliveries: DeliveryService,
    private readonly consumer: AlertsConsumer,
    private readonly guard: SsrfGuard,
    @Inject(ALERTS_OPTIONS) private readonly options: AlertsOptions,
    @Inject(CLOCK) private readonly clock: () => Date,
  ) {}

  private async checkChannel(channel: Channel, path: string): Promise<void> {
    if (channel.kind === 'sse') return;
    try {
      await this.guard.check(channel.url);
    } catch (e) {
      if (e instanceof WebhookUrlRefused) throw validationProblem([{ path: `${path}.url`, message: e.reason } satisfies FieldIssue]);
      throw e;
    }
  }

  async owned(id: string, principal: string): Promise<Subscription> {
    const s = await this.repo.ownedSubscription(id, principal);
    if (!s) throw notFound();
    return s;
  }

  /** Writes the plan; a deadline subscription also gets its reminders from the upcoming-applicability state. */
  private async commitWithReminders(plan: Plan, s: Subscription, replaceReminders: boolean, now: Date): Promise<void> {
    await this.consumer.lock.run(async () => {
      if (replaceReminders) plan.add(this.repo.cancelPendingOf(s.id, now.toISOString(), 'subscription changed', 'deadline'), 'unqueue');
      if (s.rule.kind === 'deadline' && s.status === 'active') {
        const state = await this.consumer.loader.refresh();
        this.consumer.matcher.planAllReminders(plan, s, state.allApplicability(), state, now);
      }
      await this.deliveries.commit(plan);
    });
  }

  async create(principal: string, body: unknown): Promise<Record<string, unknown>> {
    const input = parseBody(CreateSubscription, body);
    await this.checkChannel(input.channel, 'channel');
    const now = this.clock();
    const s: Subscription = {
      id: `sub_${randomUUID().replace(/-/g, '')}`,
      principal,
      name: input.name,
      filters: input.filters,
      rule: input.rule,
      channel: input.channel,
      secret: generateSecret(),
      previousSecret: null,
      previousSecretUntil: null,
      status: 'active',
      statusReason: null,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
    };
    const plan = new Plan();
    plan.add(this.repo.insertSubscription(s));
    await this.commitWithReminders(plan, s, false, now);
    return publicView(s, true);
  }

  async list(principal: string): Promise<Record<string, unknown>[]> {
    return (await this.repo.subscriptionsOf(principal)).map((s) => publicView(s));
  }

  async get(id: string, principal: string): Promise<Record<string, unknown>> {
    return publicView(await this.owned(id, principal));
  }

  async update(id: string, principal: string, body: unknown): Promise<Record<string, unknown>> {
    const current = await this.owned(id, principal);
    const patch = parseBody(PatchSubscription, body);
    if (patch.channel) await this.checkChannel(patch.channel, 'channel');
    const now = this.clock();
    const status = patch.status ?? current.status;
    const next: Subscription = {
      ...current,
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.filters !== undefined ? { filters: patch.filters } : {}),
      ...(patch.rule !== undefined ? { rule: patch.rule } : {}),
      ...(patch.channel !== undefined ? { channel: patch.channel } : {}),
      status,
      statusReason: status === current.status ? current.statusReason : null,
      updatedAt: now.toISOString(),
    };
    const plan = new Plan();
    plan.add(this.repo.updateSubscription(next));
    const remindersChange =
      (current.rule.kind === 'deadline' || next.rule.kind === 'deadline') &&
      (patch.rule !== undefined || patch.filters !== undefined || patch.channel !== undefined || status !== current.status);
    await this.commitWithReminders(plan, next, remindersChange && current.rule.kind === 'deadline', now);
    return publicView(next);
  }

  async remove(id: string, principal: string): Promise<void> {
    const current = await this.owned(id, principal);
    const plan = new Plan();
    plan.add(this.repo.cancelPendingOf(current.id, this.clock().toISOString(), 'subscription deleted'), 'unqueue');
    plan.add(this.repo.deleteSubscription(current.id));
    await this.deliveries.commit(plan);
  }

  async rotateSecret(id: string, principal: string, body: unknown): Promise<Record<string, unknown>> {
    const current = await this.owned(id, principal);
    const input = parseBody(RotateSecret, body);
    const now = this.clock();
    const graceMs = input.graceSeconds !== undefined ? input.graceSeconds * 1000 : this.options.rotationWindowMs;
    const next: Subscription = {
      ...current,
      secret: generateSecret(),
      previousSecret: graceMs > 0 ? current.secret : null,
      previousSecretUntil: graceMs > 0 ? new Date(now.getTime() + graceMs).toISOString() : null,
      updatedAt: now.toISOString(),
    };
    await this.repo.db.batch([this.repo.updateSubscription(next)]);
    return publicView(next, true);
  }
}
