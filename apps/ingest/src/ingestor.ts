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

export const MAX_BATCH = 1000;

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
    // Without a client-given version, decide on what we read and append only if nobody wrote in between;
    // on a race, read again and decide again.
    for (let attempt = 0; ; attempt++) {
      const requests = await this.decide(items, prefix);
      try {
        const result = await this.store.appendBatch(requests, {
          now: this.clock(),
          ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}),
          ...(opts.requestHash ? { requestHash: opts.requestHash } : {}),
        });
        if (result.written > 0) this.afterAppend();
        return result;
      } catch (e) {
        const clientPinned = items.some((i) => i.expectedVersion !== undefined);
        if (e instanceof ConcurrencyError && !clientPinned && attempt < 5) continue;
        throw e;
      }
    }
  }

  private async decide(items: readonly Item[], prefix: string): Promise<AppendRequest[]> {
    const byStream = new Map<string, Item[]>();
    for (const it of items) byStream.set(it.envelope.subject, [...(byStream.get(it.envelope.subject) ?? []), it]);
    const issues: FieldIssue[] = [];
    const requests: AppendRequest[] = [];
    const needsHistory = [...byStream].filter(
      ([streamId, group]) => streamId.startsWith('instrument-') || group.some((it) => it.envelope.type === 'RecordCorrected' || it.envelope.type === 'RecordRetracted'),
    );
    // One round trip for every stream the batch must decide on.
    const histories = needsHistory.length ? await this.store.readStreams(needsHistory.map(([s]) => s)) : new Map<string, StoredEvent[]>();
    for (const [streamId, group] of byStream) {
      const pinned = group.find((it) => it.expectedVersion !== undefined)?.expectedVersion;
      const instrument = streamId.startsWith('instrument-');
      const targets = group.some((it) => it.envelope.type === 'RecordCorrected' || it.envelope.type === 'RecordRetracted');
      if (!instrument && !targets) {
        // Stance and codebook streams have no rule that depends on their history: no need to read them.
        requests.push({ streamId, events: group.map((g) => g.envelope), expectedVersion: pinned ?? 'any' });
        continue;
      }
      // Instrument streams are short (a lifecycle); reading them to decide is cheap.
      const existing = histories.get(streamId) ?? [];
      const known = new Set<string>(existing.map((e) => e.id));
      const keys = new Set<string>(existing.map((e) => e.idempotencykey).filter((k): k is string => k !== undefined));
      const fresh = group.filter((it) => !known.has(it.envelope.id) && !(it.envelope.idempotencykey && keys.has(it.envelope.idempotencykey)));
      if (instrument) {
        let state: InstrumentState = existing.reduce<InstrumentState>((st, e: StoredEvent) => instrumentDecider.evolve(st, e), instrumentDecider.initialState());
        for (const it of fresh) {
          try {
            for (const out of instrumentDecider.decide({ type: 'RecordInstrumentEvent', event: it.envelope }, state)) state = instrumentDecider.evolve(state, out);
          } catch (e) {
            if (!(e instanceof InstrumentRuleViolation)) throw e;
            issues.push({ path: fieldPath(prefix, it.index, e.path), message: e.message });
          }
        }
      } else {
        for (const it of fresh) {
          const e = it.envelope;
          if ((e.type === 'RecordCorrected' || e.type === 'RecordRetracted') && !known.has(e.data.targetEventId)) {
            issues.push({ path: fieldPath(prefix, it.index, 'data.targetEventId'), message: 'a correction or retraction must target an event of this stream' });
          }
          // A later event of the same batch may target this one.
          known.add(e.id);
        }
      }
      requests.push({ streamId, events: group.map((g) => g.envelope), expectedVersion: pinned ?? (fresh.length ? existing.length : 'any') });
    }
    if (issues.length) throw new IngestValidationError(issues);
    return requests;
  }
}
