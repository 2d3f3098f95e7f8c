import { InMemoryEventStore } from '@regstream/event-store';
import { EventIngestor, IngestValidationError } from './ingestor';
import { StreamMemo } from './stream-memo';

const cite = { url: 'https://eur-lex.europa.eu/eli/reg/2024/1689/oj', tier: 'primary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' };
const registered = (id: string, extra: Record<string, unknown> = {}) => ({
  type: 'InstrumentRegistered',
  subject: `instrument-${id}`,
  validtime: '2021-04-21',
  knowntime: '2021-04-21',
  citation: cite,
  data: { instrumentId: id, jurisdiction: 'EU', kind: 'regulation', legalForce: 'binding', issuingBody: 'European Parliament and Council', titles: { en: 'AI Act' } },
  ...extra,
});
const applies = (id: string, extra: Record<string, unknown> = {}) => ({
  type: 'ProvisionBecameApplicable',
  subject: `instrument-${id}`,
  validtime: '2026-08-02',
  knowntime: '2024-07-12',
  citation: cite,
  data: { instrumentId: id, provision: 'Annex III' },
  ...extra,
});
const postponed = (id: string, previousDate: string, newDate: string, extra: Record<string, unknown> = {}) => ({
  type: 'ApplicationPostponed',
  subject: `instrument-${id}`,
  validtime: '2026-07-20',
  knowntime: '2026-07-20',
  citation: cite,
  data: { instrumentId: id, provision: 'Annex III', previousDate, newDate },
  ...extra,
});

/** An in-memory store that counts the stream reads the ingestor makes to decide. */
class CountingStore extends InMemoryEventStore {
  reads = 0;
  located: string[][] = [];
  override readStreams(ids: readonly string[]) {
    this.reads += 1;
    return super.readStreams(ids);
  }
  override locate(ids: readonly string[], keys: readonly string[] = []) {
    this.located.push([...ids, ...keys]);
    return super.locate(ids, keys);
  }
}

const issuesOf = async (p: Promise<unknown>) => {
  const e: unknown = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(IngestValidationError);
  return (e as IngestValidationError).issues;
};

describe('EventIngestor deciding without reading back', () => {
  it('registers a new instrument and appends its later events without reading the stream', async () => {
    const store = new CountingStore();
    const ingest = new EventIngestor(store);
    await ingest.ingestInput([registered('quiet')]);
    await ingest.ingestInput([applies('quiet')]);
    await ingest.ingestInput([postponed('quiet', '2026-08-02', '2027-12-02')]);
    expect(store.reads).toBe(0);
    expect((await store.readStream('instrument-quiet')).map((e) => e.streamversion)).toEqual([1, 2, 3]);
    // The remembered state is the real one: a postponement from a date no longer current is refused.
    const issues = await issuesOf(ingest.ingestInput([postponed('quiet', '2026-08-02', '2028-01-01')], {}, ''));
    expect(issues).toEqual([expect.objectContaining({ path: 'data.previousDate' })]);
  });

  it('reads again and decides on what the stream holds when another writer moved it', async () => {
    const store = new CountingStore();
    const a = new EventIngestor(store);
    const b = new EventIngestor(store);
    const reg = await a.ingestInput([registered('shared'), applies('shared')]);
    await b.ingestInput([postponed('shared', '2026-08-02', '2027-12-02')]);
    let reads = store.reads;
    // Refused by the rules on what a remembers (the date a knows is 2026-08-02), valid on the stream: a reads.
    await a.ingestInput([postponed('shared', '2027-12-02', '2028-06-01')]);
    expect(store.reads).toBe(++reads);
    // Valid on both, but b's remembered version is behind: the store refuses b's first try, b reads.
    const fix = { type: 'RecordCorrected', subject: 'instrument-shared', validtime: '2026-02-01', data: { targetEventId: reg.events[0]?.id, changes: { validtime: '2021-04-22' }, reason: 'typo' } };
    expect((await b.ingestInput([fix])).written).toBe(1);
    expect(store.reads).toBe(++reads);
    await b.ingestInput([postponed('shared', '2028-06-01', '2029-01-01')]);
    expect(store.reads).toBe(reads);
    // Valid on what a remembers, not on the stream: the conflict sends a to read, and the rule answers.
    const issues = await issuesOf(a.ingestInput([postponed('shared', '2028-06-01', '2030-01-01')], {}, ''));
    expect(issues).toEqual([expect.objectContaining({ path: 'data.previousDate', message: expect.stringContaining('2029-01-01') as unknown })]);
    expect(store.reads).toBe(++reads);
    expect((await store.readStream('instrument-shared')).map((e) => e.type)).toEqual([
      'InstrumentRegistered',
      'ProvisionBecameApplicable',
      'ApplicationPostponed',
      'ApplicationPostponed',
      'RecordCorrected',
      'ApplicationPostponed',
    ]);
  });

  it('refuses a second registration with the rule, though the batch was decided without a read', async () => {
    const store = new CountingStore();
    await new EventIngestor(store).ingestInput([registered('twice')]);
    const other = new EventIngestor(store);
    const issues = await issuesOf(other.ingestInput([registered('twice')], {}, ''));
    expect(issues).toEqual([expect.objectContaining({ path: 'type', message: expect.stringContaining('already registered') as unknown })]);
    // The same with the client pinning no_stream: the rule still answers (422), as when it was always read.
    const pinned = await issuesOf(other.ingestInput([registered('twice', { expectedVersion: 'no_stream' })], {}, ''));
    expect(pinned).toEqual([expect.objectContaining({ path: 'type' })]);
    expect(await store.streamVersion('instrument-twice')).toBe(1);
  });

  it('uses what it remembers only for the version the client pins', async () => {
    const store = new CountingStore();
    const ingest = new EventIngestor(store);
    await ingest.ingestInput([registered('pin')]);
    await ingest.ingestInput([applies('pin', { expectedVersion: 1 })]);
    expect(store.reads).toBe(0);
    // A stale pin: read, decided, and refused by the store as the conflict it is.
    await expect(ingest.ingestInput([postponed('pin', '2026-08-02', '2027-12-02', { expectedVersion: 1 })])).rejects.toMatchObject({ name: 'ConcurrencyError', actual: 2 });
    expect(store.reads).toBe(1);
    expect(await store.streamVersion('instrument-pin')).toBe(2);
  });

  it('answers a replayed event as a duplicate without writing, whatever it remembers', async () => {
    const store = new CountingStore();
    const ingest = new EventIngestor(store);
    const first = await ingest.ingestInput([registered('again', { id: '22222222-2222-4222-8222-222222222222' })]);
    const again = await new EventIngestor(store).ingestInput([registered('again', { id: '22222222-2222-4222-8222-222222222222' })]);
    expect(again.written).toBe(0);
    expect(again.events[0]).toMatchObject({ duplicate: true, position: first.events[0]?.position });
    expect((await ingest.ingestInput([registered('again', { id: '22222222-2222-4222-8222-222222222222' })])).written).toBe(0);
  });
});

describe('EventIngestor on a stance stream', () => {
  const stance = (id: string, value: number) => ({
    id,
    type: 'StanceCoded',
    subject: 'stances-kr',
    validtime: '2026-01-22',
    knowntime: '2025-01-21',
    data: { jurisdiction: 'KR', codebookVersion: '1.0.0', dimension: 'legal_bindingness', value, provisions: [], evidence: 'e', coder: 'c', confidence: 0.8 },
  });
  const fix = (target: string) => ({ type: 'RecordCorrected', subject: 'stances-kr', validtime: '2026-02-01', data: { targetEventId: target, changes: { value: 3 }, reason: 'miscoded' } });

  it('decides a correction by looking up its target and itself, never by reading the stream', async () => {
    const store = new CountingStore();
    const ingest = new EventIngestor(store);
    const ids = ['33333333-3333-4333-8333-333333333331', '33333333-3333-4333-8333-333333333332', '33333333-3333-4333-8333-333333333333'];
    await ingest.ingestInput([stance(ids[0] as string, 1), stance(ids[1] as string, 2)]);
    const fixId = '55555555-5555-4555-8555-555555555551';
    const first = await ingest.ingestInput([{ ...fix(ids[0] as string), id: fixId, idempotencykey: 'fix-1' }]);
    expect(first.written).toBe(1);
    expect(store.located).toEqual([[fixId, ids[0], 'fix-1']]);
    // Another writer's coding in between changes nothing: what is looked up cannot be undone.
    await new EventIngestor(store).ingestInput([stance(ids[2] as string, 2)]);
    expect((await ingest.ingestInput([fix(ids[2] as string)])).written).toBe(1);
    // Sent again (same id, or same event idempotency key with a new id): found in the stream, nothing written.
    expect((await ingest.ingestInput([{ ...fix(ids[0] as string), id: fixId, idempotencykey: 'fix-1' }])).written).toBe(0);
    expect((await ingest.ingestInput([{ ...fix(ids[0] as string), idempotencykey: 'fix-1' }])).written).toBe(0);
    // A target that does not exist, or is in another stream, is refused, naming the field.
    const elsewhere = '66666666-6666-4666-8666-666666666661';
    await ingest.ingestInput([{ ...stance(elsewhere, 1), subject: 'stances-jp', data: { ...stance(elsewhere, 1).data, jurisdiction: 'JP' } }]);
    for (const target of ['44444444-4444-4444-8444-444444444444', elsewhere]) {
      const issues = await issuesOf(ingest.ingestInput([fix(target)], {}, ''));
      expect(issues).toEqual([expect.objectContaining({ path: 'data.targetEventId' })]);
    }
    // A correction of a coding earlier in the same batch needs no lookup of that coding.
    const fourth = '33333333-3333-4333-8333-333333333334';
    expect((await ingest.ingestInput([stance(fourth, 3), fix(fourth)])).written).toBe(2);
    expect(store.reads).toBe(0);
    expect(await store.streamVersion('stances-kr')).toBe(7);
  });
});

describe('StreamMemo', () => {
  it('forgets the least recently used stream first and does not keep long streams', () => {
    const memo = new StreamMemo(2, 3);
    const basis = (version: number) => ({ version, state: { status: 'unregistered' as const }, ids: new Set<string>(), keys: new Set<string>() });
    memo.set('a', basis(1));
    memo.set('b', basis(1));
    expect(memo.get('a')?.version).toBe(1);
    memo.set('c', basis(1));
    expect([memo.get('a') !== undefined, memo.get('b') !== undefined, memo.get('c') !== undefined]).toEqual([true, false, true]);
    memo.set('a', basis(4));
    expect(memo.get('a')).toBeUndefined();
    expect(memo.size).toBe(1);
  });
});
