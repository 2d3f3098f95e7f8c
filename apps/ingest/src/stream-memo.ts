import { type AnyEnvelope, instrumentDecider, type InstrumentState } from '@regstream/domain';

/**
 * What deciding on one stream needs, folded over its events 1..version: the instrument decider's state
 * (left initial on streams that are not instruments), and the ids and event idempotency keys already
 * in the stream.
 */
export interface StreamBasis {
  readonly version: number;
  readonly state: InstrumentState;
  readonly ids: ReadonlySet<string>;
  readonly keys: ReadonlySet<string>;
}

export const EMPTY_BASIS: StreamBasis = { version: 0, state: instrumentDecider.initialState(), ids: new Set(), keys: new Set() };

/** The basis after `events`, appended in order at versions basis.version + 1, + 2, ... */
export function advance(basis: StreamBasis, events: readonly AnyEnvelope[], instrument: boolean): StreamBasis {
  if (events.length === 0) return basis;
  const ids = new Set(basis.ids);
  const keys = new Set(basis.keys);
  let state = basis.state;
  for (const e of events) {
    ids.add(e.id);
    if (e.idempotencykey !== undefined) keys.add(e.idempotencykey);
    if (instrument) state = instrumentDecider.evolve(state, e);
  }
  return { version: basis.version + events.length, state, ids, keys };
}

/**
 * The bases of recently written streams, so the next append to one of them can be decided without
 * reading the stream back. Streams only grow, so a basis stays a true prefix of its stream forever; the
 * append that follows a decision names the basis's version as its expected version, and the store refuses
 * it if anyone wrote in between, after which the ingestor reads the stream and decides again. Least
 * recently used streams are forgotten first.
 */
export class StreamMemo {
  private readonly bases = new Map<string, StreamBasis>();

  constructor(
    private readonly maxStreams = 10_000,
    /** Longer streams are read each time: their id sets would dominate the memory held. */
    private readonly maxEventsPerStream = 1_000,
  ) {}

  get(streamId: string): StreamBasis | undefined {
    const b = this.bases.get(streamId);
    if (b) {
      // Map iteration order is insertion order: re-inserting marks the stream as just used.
      this.bases.delete(streamId);
      this.bases.set(streamId, b);
    }
    return b;
  }

  set(streamId: string, basis: StreamBasis): void {
    this.bases.delete(streamId);
    if (basis.version > this.maxEventsPerStream) return;
    this.bases.set(streamId, basis);
    if (this.bases.size > this.maxStreams) {
      const oldest = this.bases.keys().next();
      if (!oldest.done) this.bases.delete(oldest.value);
    }
  }

  delete(streamId: string): void {
    this.bases.delete(streamId);
  }

  get size(): number {
    return this.bases.size;
  }
}
