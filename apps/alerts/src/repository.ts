import { createHash } from 'node:crypto';
import type { StoredEvent } from '@regstream/domain';
import { type AlertsDb, type Stmt, stmt } from './db';
import { type Subscription, subscriptionFromRow, type SubscriptionRow } from './subscriptions/model';

export type AlertKind = 'event' | 'divergence' | 'deadline' | 'deadline.moved' | 'digest';
export const WEBHOOK_TYPES: Readonly<Record<AlertKind, string>> = {
  event: 'regstream.event.matched',
  divergence: 'regstream.divergence.threshold',
  deadline: 'regstream.deadline.reminder',
  'deadline.moved': 'regstream.deadline.moved',
  digest: 'regstream.digest.daily',
};

/** Deterministic message id: the same event and subscription always give the same id (webhook-id). */
export function alertId(...parts: string[]): string {
  return `msg_${createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)}`;
}

/** BullMQ job id of a delivery attempt (no ':' allowed, never an integer). */
export function jobIdOf(deliveryId: string, attempt: number): string {
  return `d_${deliveryId}_${attempt}`;
}

export interface Alert {
  readonly id: string;
  readonly subscription: Subscription;
  readonly kind: AlertKind;
  readonly eventId: string | null;
  /** The exact JSON sent (and signed), fixed for every retry. */
  readonly body: string;
  readonly createdAt: string;
}

export function alertBody(kind: AlertKind, subscriptionId: string, timestamp: string, data: unknown): string {
  return JSON.stringify({ type: WEBHOOK_TYPES[kind], timestamp, subscriptionId, data });
}

export type DeliveryStatus = 'pending' | 'sending' | 'delivered' | 'dead' | 'gone' | 'cancelled';
/** `http`: POST to the subscription's URL. `feed`: materialise into the SSE/digest log when due. */
export type DeliveryChannel = 'http' | 'feed';

export interface DeliveryRow {
  id: string;
  subscription_id: string;
  principal: string;
  kind: AlertKind;
  channel: DeliveryChannel;
  body: string;
  status: DeliveryStatus;
  attempts: number;
  max_attempts: number;
  cycle_start: number;
  next_attempt_at: string;
  lease_until: string | null;
  reminder_key: string | null;
  event_id: string | null;
  last_status_code: number | null;
  last_error: string | null;
  last_latency_ms: number | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

export interface AttemptRow {
  delivery_id: string;
  attempt: number;
  started_at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

export interface MatchRow {
  seq: number | string;
  id: string;
  subscription_id: string;
  kind: AlertKind;
  event_id: string | null;
  body: string;
  day: string;
  created_at: string;
}

/**
 * PostgreSQL text cannot hold NUL, so no stored id or time contains one: a key from a request (a path
 * parameter, a cursor) that does, names nothing, and is not sent to the database (it would fail there).
 */
const nameable = (...keys: readonly string[]): boolean => keys.every((k) => !k.includes('\u0000'));

const DELIVERY_COLUMNS =
  'id, subscription_id, principal, kind, channel, body, status, attempts, max_attempts, cycle_start, next_attempt_at, lease_until, reminder_key, event_id, last_status_code, last_error, last_latency_ms, created_at, updated_at, delivered_at';

/** SQL of the alerts tables; statements come back as `Stmt`s so callers can group them atomically. */
export class AlertsRepository {
  constructor(readonly db: AlertsDb) {}

  // --- subscriptions ----------------------------------------------------------------------------

  insertSubscription(s: Subscription): Stmt {
    return stmt(
      `INSERT INTO alert_subscriptions (id, principal, name, filters, rule, channel, secret, previous_secret, previous_secret_until, status, status_reason, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      s.id, s.principal, s.name, JSON.stringify(s.filters), JSON.stringify(s.rule), JSON.stringify(s.channel), s.secret, s.previousSecret, s.previousSecretUntil, s.status, s.statusReason, s.createdAt, s.updatedAt,
    );
  }

  updateSubscription(s: Subscription): Stmt {
    return stmt(
      `UPDATE alert_subscriptions SET name = $2, filters = $3, rule = $4, channel = $5, secret = $6, previous_secret = $7, previous_secret_until = $8,
       status = $9, status_reason = $10, updated_at = $11 WHERE id = $1`,
      s.id, s.name, JSON.stringify(s.filters), JSON.stringify(s.rule), JSON.stringify(s.channel), s.secret, s.previousSecret, s.previousSecretUntil, s.status, s.statusReason, s.updatedAt,
    );
  }

  deleteSubscription(id: string): Stmt {
    return stmt(`DELETE FROM alert_subscriptions WHERE id = $1`, id);
  }

  async subscription(id: string): Promise<Subscription | null> {
    if (!nameable(id)) return null;
    const [row] = await this.db.query<SubscriptionRow>(`SELECT * FROM alert_subscriptions WHERE id = $1`, [id]);
    return row ? subscriptionFromRow(row) : null;
  }

  async ownedSubscription(id: string, principal: string): Promise<Subscription | null> {
    if (!nameable(id, principal)) return null;
    const [row] = await this.db.query<SubscriptionRow>(`SELECT * FROM alert_subscriptions WHERE id = $1 AND principal = $2`, [id, principal]);
    return row ? subscriptionFromRow(row) : null;
  }

  async subscriptionsOf(principal: string): Promise<Subscription[]> {
    const rows = await this.db.query<SubscriptionRow>(`SELECT * FROM alert_subscriptions WHERE principal = $1 ORDER BY created_at, id`, [principal]);
    return rows.map(subscriptionFromRow);
  }

  async activeSubscriptions(): Promise<Subscription[]> {
    const rows = await this.db.query<SubscriptionRow>(`SELECT * FROM alert_subscriptions WHERE status = 'active' ORDER BY created_at, id`);
    return rows.map(subscriptionFromRow);
  }

  async subscriptionsByChannel(kind: string): Promise<Subscription[]> {
    const rows = await this.db.query<SubscriptionRow>(`SELECT * FROM alert_subscriptions WHERE status = 'active' ORDER BY created_at, id`);
    return rows.map(subscriptionFromRow).filter((s) => s.channel.kind === kind);
  }

  setSubscriptionStatus(id: string, status: string, reason: string | null, now: string): Stmt {
    return stmt(`UPDATE alert_subscriptions SET status = $2, status_reason = $3, updated_at = $4 WHERE id = $1`, id, status, reason, now);
  }

  // --- consumer state ---------------------------------------------------------------------------

  checkpointStmt(groupId: string, partition: string, offset: string, now: string): Stmt {
    return stmt(
      `INSERT INTO alert_checkpoints (group_id, partition_key, last_offset, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (group_id, partition_key) DO UPDATE SET last_offset = excluded.last_offset, updated_at = excluded.updated_at`,
      groupId, partition, offset, now,
    );
  }

  async checkpoint(groupId: string, partition: string): Promise<string | null> {
    const [row] = await this.db.query<{ last_offset: string }>(`SELECT last_offset FROM alert_checkpoints WHERE group_id = $1 AND partition_key = $2`, [groupId, partition]);
    return row ? String(row.last_offset) : null;
  }

  async dropCheckpoints(groupId: string, prefix: string): Promise<void> {
    await this.db.query(`DELETE FROM alert_checkpoints WHERE group_id = $1 AND partition_key LIKE $2`, [groupId, `${prefix}%`]);
  }

  keepStmt(e: StoredEvent): Stmt {
    return stmt(
      `INSERT INTO alert_kept_events (event_id, position, type, body, recorded_time) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING`,
      e.id, e.position, e.type, JSON.stringify(e), e.recordedtime,
    );
  }

  async keptSince(seq: number, limit: number): Promise<{ seq: number; body: string }[]> {
    const rows = await this.db.query<{ seq: number | string; body: string }>(`SELECT seq, body FROM alert_kept_events WHERE seq > $1 ORDER BY seq LIMIT $2`, [seq, limit]);
    return rows.map((r) => ({ seq: Number(r.seq), body: r.body }));
  }

  // --- matches and deliveries ------------------------------------------------------------------

  insertMatch(a: Alert): Stmt {
    return this.insertMatches([matchRow(a)]);
  }

  /** Multi-row insert of match rows (see matchRow); existing ids are left alone. */
  insertMatches(rows: readonly unknown[][]): Stmt {
    const unique = uniqueBy(rows);
    return stmt(
      `INSERT INTO alert_matches (id, subscription_id, principal, kind, event_id, body, day, created_at) VALUES ${values(unique.length, 8)}
       ON CONFLICT (id) DO NOTHING RETURNING seq`,
      ...unique.flat(),
    );
  }

  /**
   * A new delivery; an existing id is left alone (replays, redelivered messages), except a cancelled
   * reminder, which comes back when its date comes back.
   */
  insertDelivery(a: Alert, channel: DeliveryChannel, nextAttemptAt: string, maxAttempts: number, reminderKey: string | null = null): Stmt {
    return this.insertDeliveries([deliveryRow(a, channel, nextAttemptAt, maxAttempts, reminderKey)]);
  }

  /** Multi-row insert of delivery rows (see deliveryRow), with the conflict rule of insertDelivery. */
  insertDeliveries(rows: readonly unknown[][]): Stmt {
    const unique = uniqueBy(rows);
    return stmt(
      `INSERT INTO alert_deliveries (id, subscription_id, principal, kind, channel, body, max_attempts, next_attempt_at, reminder_key, event_id, created_at, updated_at, status, attempts, cycle_start)
       VALUES ${values(unique.length, 12, "'pending', 0, 0")}
       ON CONFLICT (id) DO UPDATE SET status = 'pending', next_attempt_at = excluded.next_attempt_at, body = excluded.body, updated_at = excluded.updated_at
       WHERE alert_deliveries.status = 'cancelled' AND alert_deliveries.kind = 'deadline'
       RETURNING id, attempts, next_attempt_at`,
      ...unique.flat(),
    );
  }

  /** Cancels the pending reminder(s) under a key, except `keepId`; returns what was cancelled. */
  cancelReminders(reminderKey: string, keepId: string, now: string): Stmt {
    return stmt(
      `UPDATE alert_deliveries SET status = 'cancelled', updated_at = $3, last_error = 'date moved'
       WHERE reminder_key = $1 AND id <> $2 AND status = 'pending' RETURNING id, attempts`,
      reminderKey, keepId, now,
    );
  }

  cancelPendingOf(subscriptionId: string, now: string, reason: string, onlyKind?: AlertKind): Stmt {
    return stmt(
      `UPDATE alert_deliveries SET status = 'cancelled', updated_at = $2, last_error = $3
       WHERE subscription_id = $1 AND status = 'pending' ${onlyKind ? 'AND kind = $4' : ''} RETURNING id, attempts`,
      ...[subscriptionId, now, reason, ...(onlyKind ? [onlyKind] : [])],
    );
  }

  async delivery(id: string): Promise<DeliveryRow | null> {
    if (!nameable(id)) return null;
    const [row] = await this.db.query<DeliveryRow>(`SELECT ${DELIVERY_COLUMNS} FROM alert_deliveries WHERE id = $1`, [id]);
    return row ? normaliseDelivery(row) : null;
  }

  /**
   * Takes a delivery for attempt `attempt` if nobody else did and it is due (a job that fires early, or
   * a stale one, does nothing); null otherwise.
   */
  async claim(id: string, attempt: number, now: Date, leaseMs: number): Promise<DeliveryRow | null> {
    const [row] = await this.db.query<DeliveryRow>(
      `UPDATE alert_deliveries SET status = 'sending', lease_until = $4, updated_at = $3
       WHERE id = $1 AND status = 'pending' AND attempts = $2 AND next_attempt_at <= $5 RETURNING ${DELIVERY_COLUMNS}`,
      [id, attempt - 1, now.toISOString(), new Date(now.getTime() + leaseMs).toISOString(), new Date(now.getTime() + 2000).toISOString()],
    );
    return row ? normaliseDelivery(row) : null;
  }

  attemptStmt(a: AttemptRow): Stmt {
    return stmt(
      `INSERT INTO alert_delivery_attempts (delivery_id, attempt, started_at, status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (delivery_id, attempt) DO NOTHING`,
      a.delivery_id, a.attempt, a.started_at, a.status_code, a.latency_ms, a.error,
    );
  }

  finishStmt(id: string, f: { status: DeliveryStatus; attempts: number; nextAttemptAt?: string; code: number | null; error: string | null; latencyMs: number | null; now: string }): Stmt {
    return stmt(
      `UPDATE alert_deliveries SET status = $2, attempts = $3, next_attempt_at = COALESCE($4, next_attempt_at), lease_until = NULL,
       last_status_code = $5, last_error = $6, last_latency_ms = $7, updated_at = $8, delivered_at = CASE WHEN $2 = 'delivered' THEN $8 ELSE delivered_at END
       WHERE id = $1`,
      id, f.status, f.attempts, f.nextAttemptAt ?? null, f.code, f.error, f.latencyMs, f.now,
    );
  }

  /** Deliveries whose worker vanished mid-send go back to pending. */
  async releaseExpiredLeases(now: string): Promise<number> {
    const rows = await this.db.query<{ id: string }>(
      `UPDATE alert_deliveries SET status = 'pending', lease_until = NULL, updated_at = $1 WHERE status = 'sending' AND lease_until < $1 RETURNING id`,
      [now],
    );
    return rows.length;
  }

  /** Pending deliveries due before `dueBefore`, in id order (keyset paging). */
  async pendingPage(afterId: string, limit: number, dueBefore: string): Promise<Pick<DeliveryRow, 'id' | 'attempts' | 'next_attempt_at'>[]> {
    const rows = await this.db.query<Pick<DeliveryRow, 'id' | 'attempts' | 'next_attempt_at'>>(
      `SELECT id, attempts, next_attempt_at FROM alert_deliveries WHERE status = 'pending' AND id > $1 AND next_attempt_at <= $3 ORDER BY id LIMIT $2`,
      [afterId, limit, dueBefore],
    );
    return rows.map((r) => ({ ...r, attempts: Number(r.attempts) }));
  }

  async attemptsOf(ids: readonly string[]): Promise<Map<string, AttemptRow[]>> {
    const out = new Map<string, AttemptRow[]>();
    if (ids.length === 0) return out;
    const rows = await this.db.query<AttemptRow>(
      `SELECT delivery_id, attempt, started_at, status_code, latency_ms, error FROM alert_delivery_attempts
       WHERE delivery_id IN (${ids.map((_, i) => `$${i + 1}`).join(', ')}) ORDER BY delivery_id, attempt`,
      ids,
    );
    for (const r of rows) {
      const list = out.get(r.delivery_id) ?? [];
      list.push({ ...r, attempt: Number(r.attempt), latency_ms: Number(r.latency_ms), status_code: r.status_code === null ? null : Number(r.status_code) });
      out.set(r.delivery_id, list);
    }
    return out;
  }

  async deliveriesOf(
    principal: string,
    q: { subscriptionId?: string; status?: string; before?: { createdAt: string; id: string }; limit: number },
  ): Promise<DeliveryRow[]> {
    if (!nameable(principal, q.subscriptionId ?? '', q.before?.createdAt ?? '', q.before?.id ?? '')) return [];
    const where = ['principal = $1'];
    const params: unknown[] = [principal];
    if (q.subscriptionId) {
      params.push(q.subscriptionId);
      where.push(`subscription_id = $${params.length}`);
    }
    if (q.status) {
      params.push(q.status);
      where.push(`status = $${params.length}`);
    }
    if (q.before) {
      params.push(q.before.createdAt, q.before.id);
      where.push(`(created_at < $${params.length - 1} OR (created_at = $${params.length - 1} AND id < $${params.length}))`);
    }
    params.push(q.limit);
    const rows = await this.db.query<DeliveryRow>(
      `SELECT ${DELIVERY_COLUMNS} FROM alert_deliveries WHERE ${where.join(' AND ')} ORDER BY created_at DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(normaliseDelivery);
  }

  async matchesAfter(subscriptionId: string, seq: number, limit: number): Promise<MatchRow[]> {
    const rows = await this.db.query<MatchRow>(
      `SELECT seq, id, subscription_id, kind, event_id, body, day, created_at FROM alert_matches WHERE subscription_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      [subscriptionId, seq, limit],
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }

  async lastMatchSeq(subscriptionId: string): Promise<number> {
    const [row] = await this.db.query<{ m: number | string | null }>(`SELECT MAX(seq) AS m FROM alert_matches WHERE subscription_id = $1`, [subscriptionId]);
    return Number(row?.m ?? 0);
  }

  async matchDays(subscriptionId: string, fromDay: string, beforeDay: string): Promise<string[]> {
    const rows = await this.db.query<{ day: string }>(
      `SELECT DISTINCT day FROM alert_matches WHERE subscription_id = $1 AND day >= $2 AND day < $3 ORDER BY day`,
      [subscriptionId, fromDay, beforeDay],
    );
    return rows.map((r) => r.day);
  }

  async matchesOfDay(subscriptionId: string, day: string, limit: number): Promise<MatchRow[]> {
    const rows = await this.db.query<MatchRow>(
      `SELECT seq, id, subscription_id, kind, event_id, body, day, created_at FROM alert_matches WHERE subscription_id = $1 AND day = $2 ORDER BY seq LIMIT $3`,
      [subscriptionId, day, limit],
    );
    return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
  }

  async countMatchesOfDay(subscriptionId: string, day: string): Promise<number> {
    const [row] = await this.db.query<{ n: number | string }>(`SELECT COUNT(*) AS n FROM alert_matches WHERE subscription_id = $1 AND day = $2`, [subscriptionId, day]);
    return Number(row?.n ?? 0);
  }

  async hasDelivery(id: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 AS x FROM alert_deliveries WHERE id = $1`, [id]);
    return rows.length > 0;
  }
}

export function matchRow(a: Alert): unknown[] {
  return [a.id, a.subscription.id, a.subscription.principal, a.kind, a.eventId, a.body, a.createdAt.slice(0, 10), a.createdAt];
}

/**
 * A new delivery; an existing id is left alone (replays, redelivered messages), except a cancelled
 * reminder, which comes back when its date comes back.
 */
export function deliveryRow(a: Alert, channel: DeliveryChannel, nextAttemptAt: string, maxAttempts: number, reminderKey: string | null): unknown[] {
  return [a.id, a.subscription.id, a.subscription.principal, a.kind, channel, a.body, maxAttempts, nextAttemptAt, reminderKey, a.eventId, a.createdAt, a.createdAt];
}

/** `($1, …, $w), ($w+1, …)` for n rows of w parameters, plus constant trailing columns. */
function values(n: number, width: number, constants?: string): string {
  return Array.from({ length: n }, (_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')}${constants ? `, ${constants}` : ''})`).join(', ');
}

/** One row per id (the first column): a multi-row upsert must not touch a row twice. */
function uniqueBy(rows: readonly unknown[][]): unknown[][] {
  const seen = new Set<unknown>();
  return rows.filter((r) => (seen.has(r[0]) ? false : (seen.add(r[0]), true)));
}

function normaliseDelivery(r: DeliveryRow): DeliveryRow {
  return {
    ...r,
    attempts: Number(r.attempts),
    max_attempts: Number(r.max_attempts),
    cycle_start: Number(r.cycle_start),
    last_status_code: r.last_status_code === null ? null : Number(r.last_status_code),
    last_latency_ms: r.last_latency_ms === null ? null : Number(r.last_latency_ms),
  };
}
