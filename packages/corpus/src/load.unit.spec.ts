import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CorpusError, loadCorpus } from './load';
import { uuidV5 } from './ids';

const dir = mkdtempSync(join(tmpdir(), 'rs-corpus-'));

describe('uuidV5', () => {
  it('is deterministic and well formed', () => {
    expect(uuidV5('a')).toBe(uuidV5('a'));
    expect(uuidV5('a')).not.toBe(uuidV5('b'));
    expect(uuidV5('a')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
  it('matches the RFC 4122 DNS namespace test vector', () => {
    const dns = Buffer.from('6ba7b8109dad11d180b400c04fd430c8', 'hex');
    expect(uuidV5('www.example.com', dns)).toBe('2ed6657d-e927-568b-95e1-2665a8aea6a2');
  });
});

describe('malformed corpus files', () => {
  it('names the file and line of a schema error', () => {
    const f = join(dir, 'bad.yaml');
    writeFileSync(
      f,
      [
        'instruments:',
        '  - id: x-thing',
        '    jurisdiction: EU',
        '    kind: law',
        '    legalForce: sort-of',
        '    issuingBody: Somebody',
        '    titles: { en: Thing }',
        '    citation: { url: https://example.org, tier: primary, retrievedAt: 2026-11-29, lastVerifiedAt: 2026-11-29 }',
        '    milestones:',
        '      - type: InstrumentAdopted',
        '        validFrom: 2024-02-30',
        '        knownAt: 2024-01-01',
        '        citation: { url: https://example.org, tier: primary, retrievedAt: 2026-11-29, lastVerifiedAt: 2026-11-29 }',
      ].join('\n'),
    );
    try {
      loadCorpus(f);
      throw new Error('expected a CorpusError');
    } catch (e) {
      expect(e).toBeInstanceOf(CorpusError);
      const issues = (e as CorpusError).issues;
      expect(issues).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ file: 'bad.yaml', path: 'instruments[0].legalForce', line: 5 }),
          expect.objectContaining({ file: 'bad.yaml', path: 'instruments[0].milestones[0].validFrom', line: 11 }),
        ]),
      );
      expect((e as Error).message).toContain('bad.yaml:5');
    }
  });
  it('names the line of a YAML syntax error', () => {
    const f = join(dir, 'syntax.yaml');
    writeFileSync(f, 'instruments:\n  - id: a\n   bad: [\n');
    expect(() => loadCorpus(f)).toThrow(/syntax\.yaml:\d+/);
  });
});
