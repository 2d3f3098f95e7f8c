import { parseNewEvent, type ParseResult, type ParsedNewEvent } from './envelope';
import { upcast, UnknownSchemaVersionError } from './upcasters';
import { eventDataJsonSchemas } from '../json-schema';
import { EVENT_TYPES } from './catalogue';

const ctx = { now: new Date('2026-11-29T10:00:00.000Z'), newId: () => '00000000-0000-4000-8000-000000000001', defaultSource: 'test' };
const cite = { url: 'https://eur-lex.europa.eu/eli/reg/2024/1689/oj', tier: 'primary', retrievedAt: '2026-11-29', lastVerifiedAt: '2026-11-29' };

const valid = {
  type: 'ProvisionBecameApplicable',
  subject: 'instrument-eu-ai-act',
  validtime: '2026-08-02',
  knowntime: '2024-07-12',
  citation: cite,
  data: { instrumentId: 'eu-ai-act', provision: 'Art. 113' },
};

function paths(r: ParseResult<ParsedNewEvent>): string[] {
  return r.ok ? [] : r.issues.map((i) => i.path);
}

describe('parseNewEvent', () => {
  it('builds a complete CloudEvents envelope', () => {
    const r = parseNewEvent(valid, ctx);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.envelope).toMatchObject({
      specversion: '1.0',
      id: ctx.newId(),
      source: 'test',
      type: 'ProvisionBecameApplicable',
      schemaversion: 1,
      datacontenttype: 'application/json',
      time: '2026-11-29T10:00:00.000Z',
      validtime: '2026-08-02',
      knowntime: '2024-07-12',
    });
  });
  it('defaults known time to the ingestion time for live events', () => {
    const { knowntime: _k, ...rest } = valid;
    const r = parseNewEvent(rest, ctx);
    expect(r.ok && r.value.envelope.knowntime).toBe('2026-11-29T10:00:00.000Z');
  });
  it.each([
    ['unknown type', { ...valid, type: 'InstrumentExploded' }, 'type'],
    ['missing subject', { ...valid, subject: undefined }, 'subject'],
    ['bad subject chars', { ...valid, subject: 'instrument eu' }, 'subject'],
    ['invalid valid time', { ...valid, validtime: '2026-02-30' }, 'validtime'],
    ['invalid known time', { ...valid, knowntime: 'yesterday' }, 'knowntime'],
    ['unknown envelope field', { ...valid, extra: 1 }, ''],
    ['citation url scheme', { ...valid, citation: { ...cite, url: 'ftp://x' } }, 'citation.url'],
    ['citation tier', { ...valid, citation: { ...cite, tier: 'gossip' } }, 'citation.tier'],
    ['citation date', { ...valid, citation: { ...cite, retrievedAt: '29/11/2026' } }, 'citation.retrievedAt'],
    ['missing provision', { ...valid, data: { instrumentId: 'eu-ai-act' } }, 'data.provision'],
    ['bad instrument id', { ...valid, data: { instrumentId: 'EU AI Act', provision: 'x' } }, 'data.instrumentId'],
    ['wrong stream', { ...valid, subject: 'instrument-other' }, 'subject'],
    ['unsupported schema version', { ...valid, schemaversion: 7 }, 'schemaversion'],
    ['bad expected version', { ...valid, expectedVersion: -5 }, 'expectedVersion'],
    ['non-uuid id', { ...valid, id: 'abc' }, 'id'],
  ])('rejects %s, naming the field', (_name, input, path) => {
    const r = parseNewEvent(input, ctx);
    expect(r.ok).toBe(false);
    expect(paths(r)).toContain(path);
  });
  it('rejects a postponement that does not postpone', () => {
    const r = parseNewEvent(
      { ...valid, type: 'ApplicationPostponed', data: { instrumentId: 'eu-ai-act', provision: 'x', previousDate: '2027-01-01', newDate: '2026-01-01' } },
      ctx,
    );
    expect(paths(r)).toEqual(['data.newDate']);
  });
  it('checks stance values against the codebook', () => {
    const stance = {
      type: 'StanceCoded',
      subject: 'stances-eu',
      validtime: '2024-08-01',
      data: { jurisdiction: 'EU', codebookVersion: '1.0.0', dimension: 'legal_bindingness', value: 3, provisions: [], evidence: 'e', coder: 'c', confidence: 0.9 },
    };
    expect(parseNewEvent(stance, ctx).ok).toBe(true);
    expect(paths(parseNewEvent({ ...stance, data: { ...stance.data, value: 9 } }, ctx))).toEqual(['data.value']);
    expect(paths(parseNewEvent({ ...stance, data: { ...stance.data, dimension: 'vibes' } }, ctx))).toEqual(['data.dimension']);
    expect(paths(parseNewEvent({ ...stance, data: { ...stance.data, codebookVersion: '9.9.9' } }, ctx))).toEqual(['data.codebookVersion']);
    expect(paths(parseNewEvent({ ...stance, data: { ...stance.data, confidence: 2 } }, ctx))).toEqual(['data.confidence']);
    expect(paths(parseNewEvent({ ...stance, data: { ...stance.data, value: 'risk_averse', dimension: 'value_orientation' } }, ctx))).toEqual([]);
    expect(paths(parseNewEvent({ ...stance, subject: 'stances-us' }, ctx))).toEqual(['subject']);
  });
  it('prefixes paths for batch items', () => {
    const r = parseNewEvent({ ...valid, validtime: 'x' }, ctx, 'events[4]');
    expect(paths(r)).toEqual(['events[4].validtime']);
  });
});

describe('upcasting', () => {
  const registry = { StanceCoded: { 1: (d: Record<string, unknown>) => ({ ...d, confidence: Number(d['confidence']) / 100 }) } };
  it('raises old versions step by step', () => {
    const out = upcast({ type: 'StanceCoded', schemaversion: 1, data: { confidence: 80 } }, registry, { StanceCoded: 2 });
    expect(out).toEqual({ type: 'StanceCoded', schemaversion: 2, data: { confidence: 0.8 } });
  });
  it('leaves current versions alone', () => {
    const raw = { type: 'StanceCoded', schemaversion: 1, data: { a: 1 } };
    expect(upcast(raw)).toEqual(raw);
  });
  it('fails loudly when a step is missing', () => {
    expect(() => upcast({ type: 'InstrumentRegistered', schemaversion: 1, data: {} }, {}, { InstrumentRegistered: 3 })).toThrow(UnknownSchemaVersionError);
  });
});

describe('JSON Schema export', () => {
  it('exports a schema for every event type', () => {
    const schemas = eventDataJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([...EVENT_TYPES].sort());
    expect(schemas.ProvisionBecameApplicable).toMatchObject({ type: 'object', required: expect.arrayContaining(['instrumentId', 'provision']) as unknown });
  });
});
