import type { MigrationInterface, QueryRunner } from 'typeorm';

/*
 * Schema of apps/alerts (subscriptions, delivery log, matcher state, consumer checkpoints). It lives
 * here because packages must not import apps; owned by the alerts app. Timestamps are ISO-8601 text
 * (they compare lexicographically), JSON is text, so both dialects read the same shapes.
 */

function statements(t: { text: string; int: string; serial: string; bigint: string }): string[] {
  return [
    `CREATE TABLE IF NOT EXISTS alert_subscriptions (
      id ${t.text} PRIMARY KEY, principal ${t.text} NOT NULL, name ${t.text} NOT NULL,
      filters ${t.text} NOT NULL, rule ${t.text} NOT NULL, channel ${t.text} NOT NULL,
      secret ${t.text} NOT NULL, previous_secret ${t.text}, previous_secret_until ${t.text},
      status ${t.text} NOT NULL, status_reason ${t.text},
      created_at ${t.text} NOT NULL, updated_at ${t.text} NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS alert_subscriptions_principal ON alert_subscriptions (principal, created_at)`,
    `CREATE INDEX IF NOT EXISTS alert_subscriptions_status ON alert_subscriptions (status)`,
    `CREATE TABLE IF NOT EXISTS alert_checkpoints (
      group_id ${t.text} NOT NULL, partition_key ${t.text} NOT NULL, last_offset ${t.text} NOT NULL, updated_at ${t.text} NOT NULL,
      PRIMARY KEY (group_id, partition_key))`,
    `CREATE TABLE IF NOT EXISTS alert_kept_events (
      seq ${t.serial}, event_id ${t.text} NOT NULL UNIQUE, position ${t.text} NOT NULL,
      type ${t.text} NOT NULL, body ${t.text} NOT NULL, recorded_time ${t.text} NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS alert_matches (
      seq ${t.serial}, id ${t.text} NOT NULL UNIQUE, subscription_id ${t.text} NOT NULL, principal ${t.text} NOT NULL,
      kind ${t.text} NOT NULL, event_id ${t.text}, body ${t.text} NOT NULL, day ${t.text} NOT NULL, created_at ${t.text} NOT NULL)`,
    `CREATE INDEX IF NOT EXISTS alert_matches_subscription ON alert_matches (subscription_id, seq)`,
    `CREATE INDEX IF NOT EXISTS alert_matches_day ON alert_matches (subscription_id, day)`,
    `CREATE TABLE IF NOT EXISTS alert_deliveries (
      id ${t.text} PRIMARY KEY, subscription_id ${t.text} NOT NULL, principal ${t.text} NOT NULL,
      kind ${t.text} NOT NULL, channel ${t.text} NOT NULL, body ${t.text} NOT NULL, status ${t.text} NOT NULL,
      attempts ${t.int} NOT NULL DEFAULT 0, max_attempts ${t.int} NOT NULL, cycle_start ${t.int} NOT NULL DEFAULT 0,
      next_attempt_at ${t.text} NOT NULL, lease_until ${t.text}, reminder_key ${t.text}, event_id ${t.text},
      last_status_code ${t.int}, last_error ${t.text}, last_latency_ms ${t.int},
      created_at ${t.text} NOT NULL, updated_at ${t.text} NOT NULL, delivered_at ${t.text})`,
    `CREATE INDEX IF NOT EXISTS alert_deliveries_status ON alert_deliveries (status, next_attempt_at)`,
    `CREATE INDEX IF NOT EXISTS alert_deliveries_principal ON alert_deliveries (principal, created_at)`,
    `CREATE INDEX IF NOT EXISTS alert_deliveries_subscription ON alert_deliveries (subscription_id, status)`,
    `CREATE INDEX IF NOT EXISTS alert_deliveries_reminder ON alert_deliveries (reminder_key)`,
    `CREATE TABLE IF NOT EXISTS alert_delivery_attempts (
      delivery_id ${t.text} NOT NULL, attempt ${t.int} NOT NULL, started_at ${t.text} NOT NULL,
      status_code ${t.int}, latency_ms ${t.int} NOT NULL, error ${t.text},
      PRIMARY KEY (delivery_id, attempt))`,
  ];
}

const DROP = ['alert_delivery_attempts', 'alert_deliveries', 'alert_matches', 'alert_kept_events', 'alert_checkpoints', 'alert_subscriptions'];

export class AlertsInitPostgres1764400000600 implements MigrationInterface {
  name = 'AlertsInitPostgres1764400000600';
  async up(q: QueryRunner): Promise<void> {
    for (const s of statements({ text: 'text', int: 'integer', serial: 'bigserial PRIMARY KEY', bigint: 'bigint' })) await q.query(s);
  }
  async down(q: QueryRunner): Promise<void> {
    for (const t of DROP) await q.query(`DROP TABLE IF EXISTS ${t}`);
  }
}

export class AlertsInitSqlite1764400000600 implements MigrationInterface {
  name = 'AlertsInitSqlite1764400000600';
  async up(q: QueryRunner): Promise<void> {
    for (const s of statements({ text: 'TEXT', int: 'INTEGER', serial: 'INTEGER PRIMARY KEY AUTOINCREMENT', bigint: 'INTEGER' })) await q.query(s);
  }
  async down(q: QueryRunner): Promise<void> {
    for (const t of DROP) await q.query(`DROP TABLE IF EXISTS ${t}`);
  }
}

export function alertsMigrations(kind: 'postgres' | 'sqlite'): (new () => unknown)[] {
  return [kind === 'postgres' ? AlertsInitPostgres1764400000600 : AlertsInitSqlite1764400000600];
}
