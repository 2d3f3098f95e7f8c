import { randomUUID } from 'node:crypto';
import {
  type AnyEnvelope,
  type FieldIssue,
  instrumentDecider,
  InstrumentRuleViolation,
  type InstrumentState,
  parseNewEvent,
  type StoredEvent,
} from '@regstream/domain';
import { type AppendRequest, type AppendResult, ConcurrencyError, type EventStore, type ExpectedVersion } from '@regstream/event-store';
import { advance, EMPTY_BASIS, type StreamBasis, StreamMemo } from './stream-memo';

export const MAX_BATCH = 1000;

type Amendment = Extract<AnyEnvelope, { type: 'RecordCorrected' | 'RecordRetracted' }>;
const isAmendment = (e: AnyEnvelope): e is Amendment => e.type === 'RecordCorrected' || e.type === 'RecordRetracted';

/** `events[3].data.x`, or just `data.x` for a single event posted on its own (prefix ''). */
function fieldPath(prefix: string, index: number, path: string): string {
  const at = prefix === '' ? '' : `${prefix}[${index}]`;
  return [at, path].filter((s) => s !== '').join('.');
}

export class IngestValidationError extends Error {
  constructor(readonly issues: FieldIssue[]) {
    super(`${issues.length} field(s) failed validation`);
    this.name = 'IngestValidationError';
  }
}

export interface IngestOptions {
  readonly idempotencyKey?: string;
  readonly requestHash?: string;
  /** Default CloudEvents source for events that do not name one. */
  readonly source?: string;
}

interface Item {
  readonly envelope: AnyEnvelope;
  readonly expectedVersion?: ExpectedVersion;
  readonly index: number;
}

/**
 * The one door for every event: schema validation, the instrument decider on the current stream state,
 * then an all-or-nothing append. Used by the HTTP API, the CLI import and the first-start corpus import.
 */
export class EventIngestor {
  private readonly memo = new StreamMemo();

  constructor(
    private readonly store: EventStore,
    private readonly clock: () => Date = () => new Date(),
    private readonly newId: () => string = randomUUID,
    private readonly afterAppend: () => void = () => undefined,
  ) {}

  /** Validates raw client input (one event or many) and appends it. */
  async ingestInput(inputs: readonly unknown[], opts: IngestOptions = {}, prefix = 'events'): Promise<AppendResult> {
    if (inputs.length === 0) throw new IngestValidationError([{ path: prefix, message: 'at least one event is required' }]);
    if (inputs.length > MAX_BATCH) throw new IngestValidationError([{ path: prefix, message: `at most ${MAX_BATCH} events per batch` }]);
    const now = this.clock();
    const issues: FieldIssue[] = [];
    const items: Item[] = [];
    inputs.forEach((input, index) => {
      const r = parseNewEvent(input, { now, newId: this.newId, defaultSource: opts.source ?? '/regstream/ingest' }, fieldPath(prefix, index, ''));
      if (!r.ok) issues.push(...r.issues);
      else items.push({ envelope: r.value.envelope, index, ...(r.value.expectedVersion !== undefined ? { expectedVersion: r.value.expectedVersion } : {}) });
    });
    const ids = new Map<string, number>();
    for (const it of items) {
      const prior = ids.get(it.envelope.id);
      if (prior !== undefined) issues.push({ path: fieldPath(prefix, it.index, 'id'), message: `duplicates the id of event ${prior}` });
      ids.set(it.envelope.id, it.index);
    }
    if (issues.length) throw new IngestValidationError(issues);
    return this.append(items, opts, prefix);
  }

  /** Appends complete envelopes (the corpus import). */
  ingestEnvelopes(envelopes: readonly AnyEnvelope[], opts: IngestOptions = {}): Promise<AppendResult> {
    return this.append(
      envelopes.map((envelope, index) => ({ envelope, index })),
      opts,
      'events',
    );
  }

  private async append(items: readonly Item[], opts: IngestOptions, prefix: string): Promise<AppendResult> {
    if (opts.idempotencyKey) {
      // An answered request is answered again before anything is re-validated against today's state.
      const prior = await this.store.findIdempotent(opts.idempotencyKey, opts.requestHash);
      if (prior) return prior;
    }
    // Without a client-given version, decide on what we know of each stream and append only if nobody
    // wrote in between; on a race, read again and decide again. A decision taken without reading (a
    // remembered basis, or a stream the batch registers) is never final: a refusal, by the rules or by
    // the store, sends it back to be decided on what the streams hold.
    let read = false;
    for (let attempt = 0; ; attempt++) {
      const d = await this.decide(items, prefix, read);
      if (d.issues.length) {
        if (!d.verified) {
          read = true;
          continue;
        }
        throw new IngestValidationError(d.issues);
      }
      try {
        const result = await this.store.appendBatch(d.requests, {
          now: this.clock(),
          ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
          ...(opts.requestHash ? { requestHash: opts.requestHash } : {}),
        });
        this.remember(d, result);
        if (result.written > 0) this.afterAppend();
        return result;
      } catch (e) {
        if (!(e instanceof ConcurrencyError)) throw e;
        for (const streamId of d.bases.keys()) this.memo.delete(streamId);
        read = true;
        if (!d.verified) continue;
        const clientPinned = items.some((i) => i.expectedVersion !== undefined);
        if (!clientPinned && attempt < 5) continue;
        throw e;
      }
    }
  }

  /**
   * Keeps each decided stream's basis, moved past what this append wrote to it; and moves on the basis of
   * any other remembered stream the append wrote to (a stance stream gets corrections, which need its
   * history, between codings, which do not), so that it stays usable as long as this process is the
   * stream's only writer.
   */
  private remember(d: Decision, result: AppendResult): void {
    const envelopes = new Map<string, AnyEnvelope>();
    for (const r of d.requests) for (const e of r.events) envelopes.set(e.id, e);
    const written = new Map<string, { version: number; envelope: AnyEnvelope }[]>();
    for (const e of result.events) {
      const envelope = envelopes.get(e.id);
      if (e.duplicate || !envelope) continue;
      const list = written.get(e.streamId);
      if (list) list.push({ version: e.streamVersion, envelope });
      else written.set(e.streamId, [{ version: e.streamVersion, envelope }]);
    }
    const streams = new Set([...d.bases.keys(), ...written.keys()]);
    for (const streamId of streams) {
      const decided = d.bases.get(streamId);
      if (decided?.partial) {
        this.memo.delete(streamId);
        continue;
      }
      const basis = decided?.basis ?? this.memo.get(streamId);
      if (!basis) continue;
      const mine = (written.get(streamId) ?? []).sort((a, b) => a.version - b.version);
      // Only a run of versions right after the basis continues it (a client-pinned version the basis
      // did not have, or another writer in between, does not).
      if (mine.some((w, i) => w.version !== basis.version + i + 1)) {
        this.memo.delete(streamId);
        continue;
      }
      const envelopes = mine.map((w) => w.envelope);
      // Usually the store wrote exactly what was decided: the decider's state after it is already known.
      const asDecided = decided?.state !== undefined && decided.fresh?.length === envelopes.length && envelopes.every((e, i) => decided.fresh?.[i] === e);
      const next = advance(basis, envelopes, streamId.startsWith('instrument-') && !asDecided);
      this.memo.set(streamId, asDecided && decided.state ? { ...next, state: decided.state } : next);
    }
  }

  /** The basis of each stream without reading it, when one can be trusted to be checked by the append. */
  private assumed(streamId: string, group: readonly Item[], pinned: ExpectedVersion | undefined, instrument: boolean): StreamBasis | undefined {
    const known = this.memo.get(streamId);
    if (known && (pinned === undefined || pinned === known.version)) return known;
    // A stream the batch opens with its registration is new, or the registration is refused anyway:
    // the append's expected version 0 says which.
    const opens = instrument && group[0]?.envelope.type === 'InstrumentRegistered';
    if (opens && (pinned === undefined || pinned === 'no_stream' || pinned === 0)) return EMPTY_BASIS;
    return undefined;
  }

  private async decide(items: readonly Item[], prefix: string, read: boolean): Promise<Decision> {
    const byStream = new Map<string, Item[]>();
    for (const it of items) {
      const group = byStream.get(it.envelope.subject);
      if (group) group.push(it);
      else byStream.set(it.envelope.subject, [it]);
    }
    const issues: FieldIssue[] = [];
    const requests: AppendRequest[] = [];
    const bases = new Map<string, Decided>();
    let verified = true;
    const needsHistory = [...byStream].filter(
      ([streamId, group]) => streamId.startsWith('instrument-') || group.some((it) => it.envelope.type === 'RecordCorrected' || it.envelope.type === 'RecordRetracted'),
    );
    for (const [streamId, group] of needsHistory) {
      const instrument = streamId.startsWith('instrument-');
      const basis = read ? undefined : this.assumed(streamId, group, group.find((it) => it.expectedVersion !== undefined)?.expectedVersion, instrument);
      if (basis) {
        bases.set(streamId, { basis, instrument });
        verified = false;
      }
    }
    // The streams the batch must decide on and knows nothing of. An instrument's rules need its history,
    // read in one round trip for all. Other streams (stances, with corrections) need only to know
    // whether some events are in them: their events and targets are looked up by id, in a round trip
    // beside it, so a correction to a stream of 30,000 codings costs an index lookup, not a read of the
    // stream (which is also too long to remember).
    const unread = needsHistory.filter(([s]) => !bases.has(s));
    const toRead = unread.filter(([s]) => s.startsWith('instrument-')).map(([s]) => s);
    const toLocate = unread.filter(([s]) => !s.startsWith('instrument-'));
    const lookups = toLocate.flatMap(([, group]) => group.flatMap((it) => [it.envelope.id, ...(isAmendment(it.envelope) ? [it.envelope.data.targetEventId] : [])]));
    const keys = toLocate.flatMap(([, group]) => group.flatMap((it) => (it.envelope.idempotencykey === undefined ? [] : [it.envelope.idempotencykey])));
    const [histories, located] = await Promise.all([
      toRead.length ? this.store.readStreams(toRead) : Promise.resolve(new Map<string, StoredEvent[]>()),
      toLocate.length ? this.store.locate(lookups, keys) : Promise.resolve([]),
    ]);
    for (const streamId of toRead) {
      const basis = advance(EMPTY_BASIS, histories.get(streamId) ?? [], true);
      bases.set(streamId, { basis, instrument: true });
      this.memo.set(streamId, basis);
    }
    for (const [streamId] of toLocate) {
      const mine = located.filter((l) => l.streamId === streamId);
      const basis: StreamBasis = {
        version: 0,
        state: EMPTY_BASIS.state,
        ids: new Set(mine.map((l) => l.id)),
        keys: new Set(mine.flatMap((l) => (l.idempotencyKey === null ? [] : [l.idempotencyKey]))),
      };
      bases.set(streamId, { basis, instrument: false, partial: true });
    }
    for (const [streamId, group] of byStream) {
      const pinned = group.find((it) => it.expectedVersion !== undefined)?.expectedVersion;
      const decided = bases.get(streamId);
      if (!decided) {
        // Stance and codebook streams have no rule that depends on their history: no need to read them.
        requests.push({ streamId, events: group.map((g) => g.envelope), expectedVersion: pinned ?? 'any' });
        continue;
      }
      const { basis, instrument } = decided;
      const fresh = group.filter((it) => !basis.ids.has(it.envelope.id) && !(it.envelope.idempotencykey && basis.keys.has(it.envelope.idempotencykey)));
      decided.fresh = fresh.map((it) => it.envelope);
      if (instrument) {
        let state: InstrumentState = basis.state;
        for (const it of fresh) {
          try {
            for (const out of instrumentDecider.decide({ type: 'RecordInstrumentEvent', event: it.envelope }, state)) state = instrumentDecider.evolve(state, out);
          } catch (e) {
            if (!(e instanceof InstrumentRuleViolation)) throw e;
            issues.push({ path: fieldPath(prefix, it.index, e.path), message: e.message });
          }
        }
        decided.state = state;
      } else if (fresh.length) {
        // A later event of the same batch may target an earlier one: the stream's ids, plus the batch's.
        const known = new Set<string>(basis.ids);
        for (const it of fresh) {
          const e = it.envelope;
          if ((e.type === 'RecordCorrected' || e.type === 'RecordRetracted') && !known.has(e.data.targetEventId)) {
            issues.push({ path: fieldPath(prefix, it.index, 'data.targetEventId'), message: 'a correction or retraction must target an event of this stream' });
          }
          known.add(e.id);
        }
      }
      // A located basis has no version to expect, and needs none: its rule (the target is in this stream)
      // cannot be undone by a later append, since events are never removed.
      requests.push({ streamId, events: group.map((g) => g.envelope), expectedVersion: pinned ?? (fresh.length && !decided.partial ? basis.version : 'any') });
    }
    return { requests, issues, verified, bases };
  }
}

interface Decision {
  readonly requests: AppendRequest[];
  readonly issues: FieldIssue[];
  /** False when a stream was decided on a basis nobody read for this request. */
  readonly verified: boolean;
  readonly bases: ReadonlyMap<string, Decided>;
}

/** One stream's decision: the basis it started from and, for an instrument, the state after its new events. */
interface Decided {
  readonly basis: StreamBasis;
  readonly instrument: boolean;
  /** The basis holds only the looked-up events of the stream (`EventStore.locate`), not its history: never remembered. */
  readonly partial?: boolean;
  fresh?: readonly AnyEnvelope[];
  state?: InstrumentState;
}
