import { CODEBOOK_V1, EVENT_TYPES, type EventType, InstrumentId, JurisdictionCode } from '@regstream/domain';
import { z } from 'zod';

const DimensionId = z.string().refine((d) => CODEBOOK_V1.dimensions.some((x) => x.id === d), `unknown dimension in codebook ${CODEBOOK_V1.version}`);

export const Filters = z.strictObject({
  jurisdictions: z.array(JurisdictionCode).min(1).max(200).optional(),
  instruments: z.array(InstrumentId).min(1).max(500).optional(),
  eventTypes: z.array(z.enum(EVENT_TYPES as [EventType, ...EventType[]])).min(1).max(EVENT_TYPES.length).optional(),
  dimensions: z.array(DimensionId).min(1).max(CODEBOOK_V1.dimensions.length).optional(),
});
export type Filters = z.infer<typeof Filters>;

const EventRule = z.strictObject({ kind: z.literal('event') });

const DivergenceRule = z
  .strictObject({
    kind: z.literal('divergence'),
    scope: z.enum(['pair', 'dimension', 'global']),
    a: JurisdictionCode.optional(),
    b: JurisdictionCode.optional(),
    dimension: DimensionId.optional(),
    /** Alert when the index crosses this level (either direction). */
    crosses: z.number().min(0).max(1).optional(),
    /** Alert when the index moves by at least this much in one change. */
    movesBy: z.number().gt(0).max(1).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.crosses === undefined && r.movesBy === undefined) {
      ctx.addIssue({ code: 'custom', path: ['crosses'], message: 'give crosses, movesBy or both' });
    }
    if (r.scope === 'pair') {
      if (r.a === undefined) ctx.addIssue({ code: 'custom', path: ['a'], message: 'a pair needs jurisdiction a' });
      if (r.b === undefined) ctx.addIssue({ code: 'custom', path: ['b'], message: 'a pair needs jurisdiction b' });
      if (r.a !== undefined && r.a === r.b) ctx.addIssue({ code: 'custom', path: ['b'], message: 'a and b must differ' });
    }
    if (r.scope === 'dimension' && r.dimension === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dimension'], message: 'a dimension scope needs a dimension' });
    }
  });

const DeadlineRule = z.strictObject({ kind: z.literal('deadline'), daysBefore: z.number().min(0).max(3650) });

export const Rule = z.discriminatedUnion('kind', [EventRule, DivergenceRule, DeadlineRule]);
export type Rule = z.infer<typeof Rule>;
export type DivergenceRule = z.infer<typeof DivergenceRule>;
export type DeadlineRule = z.infer<typeof DeadlineRule>;

const Url = z.string().min(1).max(2048);
export const Channel = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('webhook'), url: Url }),
  z.strictObject({ kind: z.literal('sse') }),
  z.strictObject({ kind: z.literal('digest'), url: Url }),
]);
export type Channel = z.infer<typeof Channel>;

// PostgreSQL text cannot hold NUL: refused here with a 422 rather than failing in the database.
const Name = z.string().trim().min(1).max(200).refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export const CreateSubscription = z.strictObject({ name: Name, filters: Filters.default({}), rule: Rule, channel: Channel });
export type CreateSubscription = z.infer<typeof CreateSubscription>;

export const PatchSubscription = z
  .strictObject({ name: Name.optional(), filters: Filters.optional(), rule: Rule.optional(), channel: Channel.optional(), status: z.enum(['active', 'paused']).optional() })
  .refine((p) => Object.keys(p).length > 0, 'nothing to change');
export type PatchSubscription = z.infer<typeof PatchSubscription>;

export const RotateSecret = z.strictObject({
  /** How long the previous secret keeps signing; default from the options (24 h). */
  graceSeconds: z.number().int().min(0).max(7 * 86400).optional(),
});

export type SubscriptionStatus = 'active' | 'paused' | 'disabled';

export interface Subscription {
  readonly id: string;
  readonly principal: string;
  readonly name: string;
  readonly filters: Filters;
  readonly rule: Rule;
  readonly channel: Channel;
  readonly secret: string;
  readonly previousSecret: string | null;
  readonly previousSecretUntil: string | null;
  readonly status: SubscriptionStatus;
  readonly statusReason: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface SubscriptionRow {
  id: string;
  principal: string;
  name: string;
  filters: string;
  rule: string;
  channel: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: string | null;
  status: string;
  status_reason: string | null;
  created_at: string;
  updated_at: string;
}

export function subscriptionFromRow(r: SubscriptionRow): Subscription {
  return {
    id: r.id,
    principal: r.principal,
    name: r.name,
    filters: JSON.parse(r.filters) as Filters,
    rule: JSON.parse(r.rule) as Rule,
    channel: JSON.parse(r.channel) as Channel,
    secret: r.secret,
    previousSecret: r.previous_secret,
    previousSecretUntil: r.previous_secret_until,
    status: r.status as SubscriptionStatus,
    statusReason: r.status_reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** What the API shows; the secret only on create and rotate. */
export function publicView(s: Subscription, withSecret = false): Record<string, unknown> {
  return {
    id: s.id,
    name: s.name,
    filters: s.filters,
    rule: s.rule,
    channel: s.channel,
    status: s.status,
    ...(s.statusReason ? { statusReason: s.statusReason } : {}),
    ...(s.previousSecretUntil ? { previousSecretValidUntil: s.previousSecretUntil } : {}),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
    ...(withSecret ? { secret: s.secret } : {}),
  };
}

/** The secrets that sign at `now`: the current one, plus the previous one inside its rotation window. */
export function signingSecrets(s: Subscription, now: Date): string[] {
  const out = [s.secret];
  if (s.previousSecret && s.previousSecretUntil && s.previousSecretUntil > now.toISOString()) out.push(s.previousSecret);
  return out;
}
