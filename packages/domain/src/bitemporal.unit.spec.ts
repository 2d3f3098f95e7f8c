import { applicability, asKnownAt, stanceMatrix } from './bitemporal';
import { envelope } from './testing';

const cite = { url: 'https://example.org/x', tier: 'primary' as const, retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' };
void cite;

describe('applicability as known at a date', () => {
  const act = 'eu-ai-act';
  const provision = 'Annex III high-risk obligations';
  const log = [
    envelope('ProvisionBecameApplicable', { instrumentId: act, provision }, { validtime: '2026-08-02', knowntime: '2024-07-12' }),
    envelope(
      'ApplicationPostponed',
      { instrumentId: act, provision, previousDate: '2026-08-02', newDate: '2027-12-02', byInstrument: 'eu-digital-omnibus-ai' },
      { validtime: '2026-07-20', knowntime: '2026-07-20' },
    ),
  ];
  it('gives the original date before the amendment was published', () => {
    const [a] = applicability(log, { knownAt: '2026-06-01' });
    expect(a?.appliesFrom).toBe('2026-08-02');
  });
  it('gives the postponed date once the amendment is known', () => {
    const [a] = applicability(log, { knownAt: '2026-08-01' });
    expect(a?.appliesFrom).toBe('2027-12-02');
    expect(a?.history.map((h) => h.type)).toEqual(['ProvisionBecameApplicable', 'ApplicationPostponed']);
  });
  it('ignores a change not yet in force at asOf', () => {
    const [a] = applicability(log, { knownAt: '2026-08-01', asOf: '2026-07-01' });
    expect(a?.appliesFrom).toBe('2026-08-02');
  });
});

describe('corrections and retractions never edit history', () => {
  const coded = envelope(
    'StanceCoded',
    { jurisdiction: 'EU', codebookVersion: '1.0.0', dimension: 'legal_bindingness', value: 2, provisions: [], evidence: 'x', coder: 't', confidence: 0.8 },
    { validtime: '2024-08-01', knowntime: '2024-07-12', id: 'stance-1' },
  );
  const corrected = envelope(
    'RecordCorrected',
    { targetEventId: 'stance-1', changes: { value: 3 }, reason: 'miscoded' },
    { validtime: '2025-01-10', knowntime: '2025-01-10', subject: 'stances-eu' },
  );
  const retracted = envelope('RecordRetracted', { targetEventId: 'stance-1', reason: 'withdrawn' }, { validtime: '2025-06-01', subject: 'stances-eu' });
  const log = [coded, corrected, retracted];

  it('shows the original before the correction was known', () => {
    expect(stanceMatrix(log, '2025-03-01', '2024-12-31').get('EU')?.get('legal_bindingness')?.value).toBe(2);
  });
  it('shows the corrected value after', () => {
    expect(stanceMatrix(log, '2025-03-01', '2025-02-01').get('EU')?.get('legal_bindingness')?.value).toBe(3);
  });
  it('drops the record once retracted', () => {
    expect(stanceMatrix(log, '2025-03-01', '2025-07-01').get('EU')).toBeUndefined();
    expect(asKnownAt(log, '2025-07-01')).toHaveLength(0);
  });
  it('respects valid time: nothing before validFrom', () => {
    expect(stanceMatrix(log, '2024-07-31', '2025-02-01').get('EU')).toBeUndefined();
  });
  it('takes the latest validFrom at or before asOf', () => {
    const later = envelope(
      'StanceCoded',
      { jurisdiction: 'EU', codebookVersion: '1.0.0', dimension: 'legal_bindingness', value: 1, provisions: [], evidence: 'y', coder: 't', confidence: 1 },
      { validtime: '2019-01-01', knowntime: '2019-01-01' },
    );
    const m = stanceMatrix([later, coded], '2024-09-01');
    expect(m.get('EU')?.get('legal_bindingness')?.value).toBe(2);
    expect(stanceMatrix([later, coded], '2020-01-01').get('EU')?.get('legal_bindingness')?.value).toBe(1);
  });
});
