import { CODEBOOK_V1, type CodedValue, dimensionById, dimensionDistance, type LogEvent, pairwiseIndex, type Profile, stanceMatrix } from '@regstream/domain';
import { loadCorpus } from './load';

/**
 * Rebuilds the seed paper's comparison (docs/methodology.md §5) from the coded corpus. The paper cites
 * China's Global AI Governance Action Plan of July 2025, so its claims are checked as of 2025-07-26.
 */
const AS_OF = '2025-07-26';
const log: LogEvent[] = loadCorpus().events.map((e, i) => ({ ...e, order: i }));
const matrix = stanceMatrix(log, AS_OF);
const value = (j: string, d: string) => matrix.get(j)?.get(d)?.value;
const profile = (j: string): Profile =>
  new Map<string, CodedValue>([...(matrix.get(j)?.entries() ?? [])].map(([d, s]) => [d, { value: s.value, confidence: s.confidence }]));

describe(`seed paper claims, as of ${AS_OF}`, () => {
  it('value orientation: EU risk-averse, US national security first, China orderly innovation; UK pro-innovation, Japan principle-based balance', () => {
    expect(value('EU', 'value_orientation')).toBe('risk_averse');
    expect(value('US', 'value_orientation')).toBe('national_security_first');
    expect(value('CN', 'value_orientation')).toBe('orderly_innovation');
    expect(value('GB', 'value_orientation')).toBe('pro_innovation');
    expect(value('JP', 'value_orientation')).toBe('balanced_promotion');
  });

  it('regulatory philosophy: EU rights-based, US market-led, China state-led', () => {
    expect(value('EU', 'regulatory_philosophy')).toBe('rights_based');
    expect(value('US', 'regulatory_philosophy')).toBe('market_led');
    expect(value('CN', 'regulatory_philosophy')).toBe('state_led');
  });

  it('high-risk AI: EU binding use-case areas, no legal definition in the US, China files all generative AI services', () => {
    const eu = value('EU', 'high_risk_definition') as string[];
    for (const area of ['critical_infrastructure', 'education', 'employment', 'essential_services', 'law_enforcement', 'migration_border']) {
      expect(eu).toContain(area);
    }
    expect(value('US', 'high_risk_definition')).toEqual([]);
    expect(value('CN', 'high_risk_definition')).toContain('generative_ai_services');
    expect(value('CN', 'registration_filing')).toBe(3);
  });

  it('transparency and oversight: binding and explainable in the EU, voluntary "appropriate transparency" in the US', () => {
    expect(value('EU', 'transparency_explainability')).toBe(3);
    expect(value('US', 'transparency_explainability')).toBe(1);
    expect(value('EU', 'human_oversight')).toBe(3);
    expect(value('US', 'human_oversight')).toBeLessThanOrEqual(1);
  });

  it('data governance: EU minimisation, Chinese localisation, US free flow', () => {
    expect(value('EU', 'data_minimisation')).toBe(2);
    expect(value('CN', 'data_cross_border')).toBe(2);
    expect(value('US', 'data_cross_border')).toBe(0);
    expect(value('EU', 'data_cross_border')).toBe(1);
  });

  it('algorithm audit: the three regimes differ', () => {
    const dim = dimensionById(CODEBOOK_V1, 'algorithm_audit');
    if (!dim) throw new Error('codebook lacks algorithm_audit');
    const eu = value('EU', 'algorithm_audit') as number;
    const us = value('US', 'algorithm_audit') as number;
    const cn = value('CN', 'algorithm_audit') as number;
    expect(new Set([eu, us, cn]).size).toBe(3);
    expect(dimensionDistance(dim, eu, us)).toBeGreaterThan(0);
  });

  it('the regimes diverge: every EU/US/CN pair is far apart, with every dimension covered', () => {
    for (const [a, b] of [['EU', 'US'], ['EU', 'CN'], ['US', 'CN']] as const) {
      const r = pairwiseIndex(CODEBOOK_V1, profile(a), profile(b));
      expect(r.coverage.missing).toEqual([]);
      expect(r.value).toBeGreaterThan(0.3);
    }
  });
});
