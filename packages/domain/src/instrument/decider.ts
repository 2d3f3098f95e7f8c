import type { EventType } from '../events/catalogue';
import type { AnyEnvelope } from '../events/envelope';

/**
 * The instrument aggregate: what a new event on an instrument stream must respect.
 * State holds only what decisions need; rich shapes live in the read models.
 */
export type InstrumentState =
  | { readonly status: 'unregistered' }
  | {
      readonly status: 'registered';
      readonly instrumentId: string;
      readonly lapsed: boolean;
      /** provision → date from which it currently applies. */
      readonly provisions: ReadonlyMap<string, string>;
      readonly eventIds: ReadonlySet<string>;
    };

export type InstrumentCommand = { readonly type: 'RecordInstrumentEvent'; readonly event: AnyEnvelope };

export class InstrumentRuleViolation extends Error {
  constructor(
    readonly rule: string,
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'InstrumentRuleViolation';
  }
}

export const initialInstrumentState = (): InstrumentState => ({ status: 'unregistered' });

const STREAM_NEUTRAL: ReadonlySet<EventType> = new Set<EventType>(['RecordCorrected', 'RecordRetracted']);

export function decideInstrument(command: InstrumentCommand, state: InstrumentState): AnyEnvelope[] {
  const e = command.event;
  if (STREAM_NEUTRAL.has(e.type)) {
    if (state.status === 'registered' && !state.eventIds.has((e.data as { targetEventId: string }).targetEventId)) {
      throw new InstrumentRuleViolation('target-in-stream', 'data.targetEventId', 'a correction or retraction must target an event of this stream');
    }
    return [e];
  }
  if (e.type === 'InstrumentRegistered') {
    if (state.status === 'registered') {
      throw new InstrumentRuleViolation('register-once', 'type', `instrument ${state.instrumentId} is already registered`);
    }
    return [e];
  }
  if (state.status === 'unregistered') {
    throw new InstrumentRuleViolation('registered-first', 'type', `${e.type} needs the instrument to be registered first`);
  }
  if ('instrumentId' in e.data && e.data.instrumentId !== state.instrumentId) {
    throw new InstrumentRuleViolation('same-instrument', 'data.instrumentId', `this stream belongs to ${state.instrumentId}`);
  }
  if (state.lapsed && (e.type === 'InstrumentEnteredIntoForce' || e.type === 'ProvisionBecameApplicable')) {
    throw new InstrumentRuleViolation('lapsed-is-final', 'type', `${state.instrumentId} lapsed without enactment`);
  }
  if (e.type === 'ApplicationPostponed' || e.type === 'ApplicationBroughtForward') {
    const current = state.provisions.get(e.data.provision);
    if (current === undefined) {
      throw new InstrumentRuleViolation('known-provision', 'data.provision', `no applicability date is recorded for '${e.data.provision}'`);
    }
    if (current !== e.data.previousDate) {
      throw new InstrumentRuleViolation('previous-date-matches', 'data.previousDate', `'${e.data.provision}' currently applies from ${current}`);
    }
  }
  return [e];
}

export function evolveInstrument(state: InstrumentState, e: AnyEnvelope): InstrumentState {
  if (e.type === 'InstrumentRegistered') {
    return { status: 'registered', instrumentId: e.data.instrumentId, lapsed: false, provisions: new Map(), eventIds: new Set([e.id]) };
  }
  if (state.status === 'unregistered') return state;
  const eventIds = new Set(state.eventIds).add(e.id);
  switch (e.type) {
    case 'ProvisionBecameApplicable':
      return { ...state, eventIds, provisions: new Map(state.provisions).set(e.data.provision, e.validtime.slice(0, 10)) };
    case 'ApplicationPostponed':
    case 'ApplicationBroughtForward':
      return { ...state, eventIds, provisions: new Map(state.provisions).set(e.data.provision, e.data.newDate) };
    case 'InstrumentLapsed':
      return { ...state, eventIds, lapsed: true };
    default:
      return { ...state, eventIds };
  }
}

export const instrumentDecider = {
  decide: decideInstrument,
  evolve: evolveInstrument,
  initialState: initialInstrumentState,
};
