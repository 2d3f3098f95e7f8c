import { DeciderSpecification, envelope } from '../testing';
import { type InstrumentCommand, instrumentDecider, InstrumentRuleViolation, type InstrumentState } from './decider';
import type { AnyEnvelope } from '../events/envelope';

const given = DeciderSpecification.for<InstrumentState, InstrumentCommand, AnyEnvelope>(instrumentDecider);
const id = 'eu-ai-act';
const registered = envelope(
  'InstrumentRegistered',
  { instrumentId: id, jurisdiction: 'EU', kind: 'regulation', legalForce: 'binding', issuingBody: 'EP and Council', titles: { en: 'AI Act' }, identifiers: {} },
  { validtime: '2021-04-21' },
);
const applies = envelope('ProvisionBecameApplicable', { instrumentId: id, provision: 'Annex III' }, { validtime: '2026-08-02', knowntime: '2024-07-12' });
const record = (event: AnyEnvelope): InstrumentCommand => ({ type: 'RecordInstrumentEvent', event });

describe('instrument decider', () => {
  it('registers a new instrument', () => {
    given([]).when(record(registered)).then([registered]);
  });
  it('refuses a second registration', () => {
    given([registered]).when(record(registered)).thenThrows(InstrumentRuleViolation, (e) => e.rule === 'register-once');
  });
  it('refuses a milestone before registration', () => {
    given([]).when(record(applies)).thenThrows(InstrumentRuleViolation, (e) => e.rule === 'registered-first');
  });
  it('accepts a postponement that moves the current date', () => {
    const postponed = envelope(
      'ApplicationPostponed',
      { instrumentId: id, provision: 'Annex III', previousDate: '2026-08-02', newDate: '2027-12-02' },
      { validtime: '2026-07-20' },
    );
    given([registered, applies]).when(record(postponed)).then([postponed]);
  });
  it('refuses a postponement whose previous date is not the current one', () => {
    const wrong = envelope(
      'ApplicationPostponed',
      { instrumentId: id, provision: 'Annex III', previousDate: '2025-08-02', newDate: '2027-12-02' },
      { validtime: '2026-07-20' },
    );
    given([registered, applies]).when(record(wrong)).thenThrows(InstrumentRuleViolation, (e) => e.path === 'data.previousDate');
  });
  it('refuses a postponement of an unknown provision', () => {
    const wrong = envelope(
      'ApplicationPostponed',
      { instrumentId: id, provision: 'Art. 999', previousDate: '2026-08-02', newDate: '2027-12-02' },
      { validtime: '2026-07-20' },
    );
    given([registered, applies]).when(record(wrong)).thenThrows(InstrumentRuleViolation, (e) => e.rule === 'known-provision');
  });
  it('keeps a lapsed bill from entering into force', () => {
    const lapsed = envelope('InstrumentLapsed', { instrumentId: id }, { validtime: '2025-01-06' });
    const inForce = envelope('InstrumentEnteredIntoForce', { instrumentId: id }, { validtime: '2025-02-01' });
    given([registered, lapsed]).when(record(inForce)).thenThrows(InstrumentRuleViolation, (e) => e.rule === 'lapsed-is-final');
  });
  it('accepts a correction that targets an event of the stream', () => {
    const fix = envelope('RecordCorrected', { targetEventId: applies.id, changes: { validtime: '2026-08-03' }, reason: 'typo' }, { validtime: '2026-01-01', subject: `instrument-${id}` });
    given([registered, applies]).when(record(fix)).then([fix]);
    const stray = envelope('RecordRetracted', { targetEventId: 'nope', reason: 'x' }, { validtime: '2026-01-01', subject: `instrument-${id}` });
    given([registered, applies]).when(record(stray)).thenThrows(InstrumentRuleViolation, (e) => e.rule === 'target-in-stream');
  });
});
