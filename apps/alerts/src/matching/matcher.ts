import { type Applicability, compareInstants, type LogEvent, type Profile, type StoredEvent, toEpochMs } from '@regstream/domain';
import type { Stmt } from '../db';
import { type Alert, alertBody, alertId, type AlertKind, type AlertsRepository, deliveryRow, matchRow } from '../repository';
import type { DeadlineRule, Filters, Subscription } from '../subscriptions/model';
import {
  applicabilityChanges,
  factsOf,
  filtersMatch,
  type KeptState,
  logEvent,
  matrixAt,
  profilesOf,
  ruleConcerns,
  thresholdHit,
  watchedIndex,
} from './engine';

const DAY_MS = 86_400_000;

/**
 * Statements to run in one transaction, and what to do with their results once committed. Match and
 * delivery rows are buffered and written as multi-row inserts; any other statement flushes them first,
 * so the order of effects (cancel a reminder, then revive it) is kept.
 */
export class Plan {
  private readonly list: Stmt[] = [];
  /** Statement indices whose RETURNING rows (id, attempts, next_attempt_at) are deliveries to enqueue. */
  readonly enqueue: number[] = [];
  /** Statement indices whose RETURNING rows (id, attempts) are deliveries whose job to remove. */
  readonly unqueue: number[] = [];
  /** Subscriptions that got a new match (SSE wake-up). */
  readonly touched = new Set<string>();
  alerts = 0;
  private matchRows: unknown[][] = [];
  private deliveryRows: unknown[][] = [];
  private repo: AlertsRepository | null = null;

  add(s: Stmt, role?: 'enqueue' | 'unqueue'): number {
    this.flush();
    return this.push(s, role);
  }

  private push(s: Stmt, role?: 'enqueue' | 'unqueue'): number {
    const i = this.list.push(s) - 1;
    if (role === 'enqueue') this.enqueue.push(i);
    if (role === 'unqueue') this.unqueue.push(i);
    return i;
  }

  addMatch(repo: AlertsRepository, a: Alert): void {
    this.repo = repo;
    this.matchRows.push(matchRow(a));
  }

  addDelivery(repo: AlertsRepository, row: unknown[]): void {
    this.repo = repo;
    this.deliveryRows.push(row);
  }

  private flush(): void {
    const repo = this.repo;
    if (!repo) return;
    const CHUNK = 200;
    for (let i = 0; i < this.matchRows.length; i += CHUNK) this.push(repo.insertMatches(this.matchRows.slice(i, i + CHUNK)));
    for (let i = 0; i < this.deliveryRows.length; i += CHUNK) this.push(repo.insertDeliveries(this.deliveryRows.slice(i, i + CHUNK)), 'enqueue');
    this.matchRows = [];
    this.deliveryRows = [];
  }

  get stmts(): readonly Stmt[] {
    this.flush();
    return this.list;
  }
}

export function isEligible(s: Subscription, e: Pick<StoredEvent, 'recordedtime'>): boolean {
  // Replays (time travel, re-publication, a consumer starting from the beginning) carry their original
  // recorded time, so only what was recorded once the subscription existed alerts.
  return compareInstants(e.recordedtime, s.createdAt) >= 0;
}

export function deadlineFiltersMatch(f: Filters, instrumentId: string, jurisdiction: string | null): boolean {
  if (f.instruments && !f.instruments.includes(instrumentId)) return false;
  if (f.jurisdictions && (jurisdiction === null || !f.jurisdictions.includes(jurisdiction))) return false;
  return true;
}

/** Matches events against subscriptions and plans the writes. Holds only a cache of the last index state. */
export class Matcher {
  private cache: { len: number; asOf: string; profiles: Map<string, Profile> } | null = null;

  constructor(
    private readonly repo: AlertsRepository,
    private readonly maxAttempts: () => number,
  ) {}

  private alert(sub: Subscription, kind: AlertKind, id: string, eventId: string | null, createdAt: string, data: unknown): Alert {
    return { id, subscription: sub, kind, eventId, body: alertBody(kind, sub.id, createdAt, data), createdAt };
  }

  /** An alert that is due now: into the match log (SSE, digest) and, for webhooks, a delivery. */
  private emit(plan: Plan, a: Alert): void {
    plan.addMatch(this.repo, a);
    plan.touched.add(a.subscription.id);
    plan.alerts += 1;
    if (a.subscription.channel.kind === 'webhook') plan.addDelivery(this.repo, deliveryRow(a, 'http', a.createdAt, this.maxAttempts(), null));
  }

  private profilesAt(log: readonly LogEvent[], asOf: string): Map<string, Profile> {
    if (this.cache && this.cache.len === log.length && this.cache.asOf === asOf) return this.cache.profiles;
    const profiles = profilesOf(matrixAt(log, asOf));
    this.cache = { len: log.length, asOf, profiles };
    return profiles;
  }

  /** Processes one new event: plans its alerts and adds it to the kept state. */
  process(e: StoredEvent, subs: readonly Subscription[], state: KeptState, now: Date, plan: Plan): void {
    const le = logEvent(e);
    const nowIso = now.toISOString();
    const facts = factsOf(le, state);
    const eligible = subs.filter((s) => s.status === 'active' && isEligible(s, e));

    for (const s of eligible) {
      if (s.rule.kind === 'event' && filtersMatch(s.filters, facts)) {
        this.emit(plan, this.alert(s, 'event', alertId('event', s.id, e.id), e.id, nowIso, { event: e }));
      }
    }

    if (state.isStanceChange(le)) {
      const watching = eligible.filter((s) => s.rule.kind === 'divergence' && ruleConcerns(s.rule, s.filters, facts));
      if (watching.length > 0) {
        const before = this.profilesAt(state.stanceLog, nowIso);
        const after = profilesOf(matrixAt([...state.stanceLog, le], nowIso));
        // The next stance change starts from here (the event joins the log below).
        if (state.keeps(e)) this.cache = { len: state.stanceLog.length + 1, asOf: nowIso, profiles: after };
        for (const s of watching) {
          if (s.rule.kind !== 'divergence') continue;
          const b = watchedIndex(s.rule, s.filters, before);
          const a = watchedIndex(s.rule, s.filters, after);
          const hit = thresholdHit(s.rule, b.value, a.value);
          if (!hit) continue;
          this.emit(
            plan,
            this.alert(s, 'divergence', alertId('divergence', s.id, e.id), e.id, nowIso, {
              scope: s.rule.scope,
              ...(s.rule.a !== undefined ? { a: s.rule.a } : {}),
              ...(s.rule.b !== undefined ? { b: s.rule.b } : {}),
              ...(s.rule.dimension !== undefined ? { dimension: s.rule.dimension } : {}),
              over: a.over,
              before: b.value,
              after: a.value,
              delta: hit.delta,
              crossed: hit.crossed,
              ...(s.rule.crosses !== undefined ? { crosses: s.rule.crosses } : {}),
              moved: hit.moved,
              ...(s.rule.movesBy !== undefined ? { movesBy: s.rule.movesBy } : {}),
              asOf: nowIso,
              cause: { eventId: e.id, type: e.type, subject: e.subject, recordedtime: e.recordedtime },
            }),
          );
        }
      }
    }

    const instrument = state.applicabilityInstrument(le);
    const kept = state.keeps(e);
    if (instrument !== null) {
      const beforeLog = state.applicabilityLog(instrument);
      const changes = applicabilityChanges(instrument, beforeLog, [...beforeLog, le]);
      const jurisdiction = state.jurisdictionOf(instrument) ?? null;
      const deadlineSubs = subs.filter((s) => s.status === 'active' && s.rule.kind === 'deadline' && deadlineFiltersMatch(s.filters, instrument, jurisdiction));
      for (const change of changes) {
        for (const s of deadlineSubs) {
          const rule = s.rule as DeadlineRule;
          const reminder = this.planReminder(plan, s, rule, { instrumentId: instrument, provision: change.provision, appliesFrom: change.after }, jurisdiction, now);
          const future = [change.before, change.after].some((d) => d !== null && (toEpochMs(d) ?? 0) > now.getTime());
          if (change.before !== null && change.after !== null && future && isEligible(s, e)) {
            this.emit(
              plan,
              this.alert(s, 'deadline.moved', alertId('deadline.moved', s.id, e.id, instrument, change.provision), e.id, nowIso, {
                instrumentId: instrument,
                provision: change.provision,
                jurisdiction,
                previousDate: change.before,
                newDate: change.after,
                direction: (toEpochMs(change.after) ?? 0) > (toEpochMs(change.before) ?? 0) ? 'postponed' : 'brought_forward',
                reminder,
                cause: { eventId: e.id, type: e.type, subject: e.subject, recordedtime: e.recordedtime },
              }),
            );
          }
        }
      }
    }
    if (kept) {
      plan.add(this.repo.keepStmt(e));
      state.add(le);
    }
  }

  /**
   * Keeps exactly one pending reminder per (subscription, instrument, provision): the one for the current
   * date, due `daysBefore` days ahead of it (now if that moment has passed but the date has not).
   * Returns when the reminder fires, or null when there is none (date gone or past).
   */
  planReminder(
    plan: Plan,
    s: Subscription,
    rule: DeadlineRule,
    p: { instrumentId: string; provision: string; appliesFrom: string | null },
    jurisdiction: string | null,
    now: Date,
  ): { fireAt: string; appliesFrom: string } | null {
    const key = alertId('reminder', s.id, p.instrumentId, p.provision);
    const appliesMs = p.appliesFrom === null ? null : toEpochMs(p.appliesFrom);
    if (p.appliesFrom === null || appliesMs === null || appliesMs <= now.getTime()) {
      plan.add(this.repo.cancelReminders(key, '', now.toISOString()), 'unqueue');
      return null;
    }
    const appliesIso = new Date(appliesMs).toISOString();
    const id = alertId('deadline', s.id, p.instrumentId, p.provision, appliesIso);
    const fireAt = new Date(Math.max(now.getTime(), appliesMs - rule.daysBefore * DAY_MS)).toISOString();
    plan.add(this.repo.cancelReminders(key, id, now.toISOString()), 'unqueue');
    // The body is stamped with the time it is due; the row records when it was scheduled.
    const a = {
      ...this.alert(s, 'deadline', id, null, fireAt, {
        instrumentId: p.instrumentId,
        provision: p.provision,
        jurisdiction,
        appliesFrom: p.appliesFrom,
        daysBefore: rule.daysBefore,
      }),
      createdAt: now.toISOString(),
    };
    plan.addDelivery(this.repo, deliveryRow(a, s.channel.kind === 'webhook' ? 'http' : 'feed', fireAt, this.maxAttempts(), key));
    return { fireAt, appliesFrom: p.appliesFrom };
  }

  /** All reminders of a deadline subscription, from the upcoming-applicability state (create, update, start). */
  planAllReminders(plan: Plan, s: Subscription, all: readonly Applicability[], state: KeptState, now: Date): number {
    if (s.rule.kind !== 'deadline' || s.status !== 'active') return 0;
    let n = 0;
    for (const a of all) {
      const jurisdiction = state.jurisdictionOf(a.instrumentId) ?? null;
      if (!deadlineFiltersMatch(s.filters, a.instrumentId, jurisdiction)) continue;
      if ((toEpochMs(a.appliesFrom) ?? 0) <= now.getTime()) continue;
      if (this.planReminder(plan, s, s.rule, { instrumentId: a.instrumentId, provision: a.provision, appliesFrom: a.appliesFrom }, jurisdiction, now)) n += 1;
    }
    return n;
  }
}
