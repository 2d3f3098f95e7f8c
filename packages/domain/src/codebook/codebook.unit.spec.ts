import { Codebook } from './types';
import { CODEBOOK_V1 } from './v1';

describe('codebook v1', () => {
  it('is valid against its own schema', () => {
    expect(Codebook.safeParse(CODEBOOK_V1).success).toBe(true);
  });
  it('covers the seed paper dimensions', () => {
    expect(CODEBOOK_V1.dimensions.map((d) => d.id)).toEqual([
      'legal_bindingness',
      'high_risk_definition',
      'transparency_explainability',
      'human_oversight',
      'data_cross_border',
      'data_minimisation',
      'algorithm_audit',
      'registration_filing',
      'enforcement_penalties',
      'value_orientation',
      'regulatory_philosophy',
    ]);
  });
  it('gives ordinal levels contiguous ranks from 0 and unique ids everywhere', () => {
    for (const d of CODEBOOK_V1.dimensions) {
      expect(new Set(d.levels.map((l) => l.id)).size).toBe(d.levels.length);
      if (d.scale === 'ordinal') expect(d.levels.map((l) => l.rank)).toEqual(d.levels.map((_, i) => i));
      else expect(d.levels.every((l) => l.rank === undefined)).toBe(true);
    }
  });
});
