import type { Codebook } from './types';

const ord = (rank: number, id: string, label: string, definition: string) => ({ id, rank, label, definition });
const lvl = (id: string, label: string, definition: string) => ({ id, label, definition });

/**
 * Codebook v1. Dimensions come from the seed paper (see docs/codebook-v1.md and docs/methodology.md).
 * It is data: changing a definition means publishing a new version, never editing this one.
 */
export const CODEBOOK_V1: Codebook = {
  version: '1.0.0',
  methodologyVersion: 'divergence-1',
  publishedOn: '2026-11-29',
  referenceRegime: 'INTL-OECD',
  dimensions: [
    {
      id: 'legal_bindingness',
      label: 'Legal bindingness',
      scale: 'ordinal',
      weight: 1.5,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§2: EU binding AI Act vs voluntary NIST framework vs Chinese binding interim measures',
      levels: [
        ord(0, 'none', 'None', 'No instrument specific to AI is in force.'),
        ord(1, 'soft_law', 'Soft law', 'Only voluntary frameworks, principles, strategies or guidance specific to AI.'),
        ord(2, 'targeted_binding', 'Targeted binding rules', 'Binding rules for specific AI services, techniques or uses (recommendation algorithms, deep synthesis, generative AI services, automated employment decisions), no horizontal AI statute with obligations.'),
        ord(3, 'comprehensive_binding', 'Comprehensive binding law', 'A horizontal statute imposing obligations on providers or deployers of AI systems across sectors.'),
      ],
    },
    {
      id: 'high_risk_definition',
      label: 'Definition of high-risk AI',
      scale: 'set',
      weight: 1.5,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§3(1): EU use-case areas; NIST no legal definition; China filing for all generative AI services',
      levels: [
        lvl('biometrics', 'Biometrics', 'Remote biometric identification, categorisation or emotion recognition.'),
        lvl('critical_infrastructure', 'Critical infrastructure', 'Safety components of critical infrastructure.'),
        lvl('education', 'Education', 'Access to, and assessment in, education and vocational training.'),
        lvl('employment', 'Employment', 'Recruitment, promotion, termination and task allocation of workers.'),
        lvl('essential_services', 'Essential services', 'Credit, insurance, public benefits and other essential services.'),
        lvl('law_enforcement', 'Law enforcement', 'Use by or for law-enforcement authorities.'),
        lvl('migration_border', 'Migration and border control', 'Migration, asylum and border-control management.'),
        lvl('justice_democracy', 'Justice and democratic processes', 'Administration of justice and influence on elections.'),
        lvl('healthcare', 'Healthcare', 'Medical devices and health decisions.'),
        lvl('generative_ai_services', 'Generative AI services', 'Generative AI services offered to the public.'),
        lvl('recommendation_algorithms', 'Recommendation algorithms', 'Algorithmic recommendation in information services.'),
        lvl('deep_synthesis', 'Deep synthesis', 'Synthetic generation or editing of text, images, audio or video.'),
        lvl('public_opinion_influence', 'Public-opinion influence', 'Services with public-opinion attributes or social-mobilisation capability.'),
        lvl('frontier_models', 'Frontier or general-purpose models', 'General-purpose or frontier models above a capability or compute threshold.'),
      ],
    },
    {
      id: 'transparency_explainability',
      label: 'Transparency and explainability',
      scale: 'ordinal',
      weight: 1,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§3(2): EU meaningful oversight and explanation vs NIST "appropriate transparency"',
      levels: [
        ord(0, 'none', 'None', 'No transparency requirement specific to AI.'),
        ord(1, 'voluntary', 'Voluntary', 'Voluntary only: each organisation chooses an appropriate level of transparency.'),
        ord(2, 'binding_disclosure', 'Binding disclosure', 'Binding disclosure duties (AI interaction notices, labelling of synthetic content, publication of algorithm principles) without explanation of individual outputs.'),
        ord(3, 'binding_explainability', 'Binding explainability', 'Binding disclosure plus explainability of outputs for high-risk uses, or a right to an explanation of individual decisions.'),
      ],
    },
    {
      id: 'human_oversight',
      label: 'Human oversight',
      scale: 'ordinal',
      weight: 1,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§2(1), §3(2): EU human oversight for high-risk systems',
      levels: [
        ord(0, 'none', 'None', 'No human-oversight requirement.'),
        ord(1, 'voluntary', 'Voluntary', 'Human oversight recommended in voluntary instruments only.'),
        ord(2, 'binding_general', 'Binding, general', 'A binding but general right to contest or obtain human review of automated decisions, or a general duty of provider responsibility.'),
        ord(3, 'binding_design', 'Binding design requirement', 'High-risk systems must be designed so that natural persons can understand, monitor, intervene in and stop them.'),
      ],
    },
    {
      id: 'data_cross_border',
      label: 'Data governance: cross-border flow',
      scale: 'ordinal',
      weight: 1,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§3(2): Chinese localisation, US free flow, EU conditional transfers',
      levels: [
        ord(0, 'open', 'Open', 'Free flow by default; no general restriction on transfers abroad.'),
        ord(1, 'conditional', 'Conditional', 'Transfers of personal data allowed subject to adequacy, safeguards or consent.'),
        ord(2, 'restrictive', 'Restrictive', 'Localisation of defined data plus a state security assessment or approval before export.'),
      ],
    },
    {
      id: 'data_minimisation',
      label: 'Data governance: minimisation',
      scale: 'ordinal',
      weight: 0.5,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§3(2): GDPR data minimisation',
      levels: [
        ord(0, 'none', 'None', 'No binding general minimisation principle.'),
        ord(1, 'sectoral', 'Sectoral or sub-national', 'Minimisation required only by sectoral or sub-national rules.'),
        ord(2, 'general', 'General', 'A binding general minimisation principle in national data-protection law.'),
      ],
    },
    {
      id: 'algorithm_audit',
      label: 'Algorithm audit and conformity assessment',
      scale: 'ordinal',
      weight: 1,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§3(3): audit methods, frequency and auditor qualification differ',
      levels: [
        ord(0, 'none', 'None', 'No assessment or audit requirement.'),
        ord(1, 'voluntary', 'Voluntary', 'Voluntary assessment or audit frameworks only.'),
        ord(2, 'binding_self_assessment', 'Binding self-assessment', 'Binding self-assessment or security assessment by the provider, kept or submitted to a regulator.'),
        ord(3, 'binding_conformity', 'Binding conformity assessment', 'Binding conformity assessment, with third-party assessment for some systems.'),
      ],
    },
    {
      id: 'registration_filing',
      label: 'Registration or filing',
      scale: 'ordinal',
      weight: 1,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§2(3): China dual filing (algorithm filing and large-model filing)',
      levels: [
        ord(0, 'none', 'None', 'No registration or filing.'),
        ord(1, 'voluntary', 'Voluntary', 'Voluntary registry or notification.'),
        ord(2, 'binding_subset', 'Binding registration of a subset', 'Binding registration in a database for a defined subset (such as high-risk systems) without prior approval.'),
        ord(3, 'binding_prelaunch', 'Binding pre-launch filing', 'Binding filing with the regulator before a whole category of services may be offered.'),
      ],
    },
    {
      id: 'enforcement_penalties',
      label: 'Enforcement and penalties',
      scale: 'ordinal',
      weight: 1,
      demandDirection: 'higher_demands_more',
      seedPaperBasis: '§2(4): scope and enforcement mechanisms differ',
      levels: [
        ord(0, 'none', 'None', 'No enforcement specific to AI.'),
        ord(1, 'general_law', 'General law only', 'Enforcement only under general law (consumer protection, data protection, anti-discrimination).'),
        ord(2, 'ai_specific', 'AI-specific sanctions', 'AI-specific administrative sanctions (fixed fines, suspension orders).'),
        ord(3, 'turnover_fines', 'Turnover-scaled fines', 'AI-specific fines scaled to worldwide turnover or above EUR 10 million.'),
      ],
    },
    {
      id: 'value_orientation',
      label: 'Value orientation',
      scale: 'nominal',
      weight: 0.75,
      demandDirection: 'not_comparable',
      seedPaperBasis: '§2(4): risk aversion (EU), national security first (US), orderly innovation (CN)',
      levels: [
        lvl('risk_averse', 'Risk-averse', 'Precautionary, ex-ante rules to minimise social risk.'),
        lvl('national_security_first', 'National security first', 'Technological leadership and national security come first.'),
        lvl('orderly_innovation', 'Orderly innovation', 'Development and security in balance under state guidance.'),
        lvl('pro_innovation', 'Pro-innovation', 'Innovation first, regulation light and proportionate.'),
        lvl('balanced_promotion', 'Balanced promotion', 'Promotion of AI with principle-based guidance balancing competitiveness and flexibility.'),
        lvl('human_centric', 'Human-centric', 'Human rights and human-centred values as shared principles.'),
      ],
    },
    {
      id: 'regulatory_philosophy',
      label: 'Regulatory philosophy',
      scale: 'nominal',
      weight: 0.75,
      demandDirection: 'not_comparable',
      seedPaperBasis: '§2(4): rights-based (EU), market-led (US), state-led (CN)',
      levels: [
        lvl('rights_based', 'Rights-based', 'Regulation grounded in fundamental rights.'),
        lvl('market_led', 'Market-led', 'Markets and voluntary standards lead; the state intervenes little.'),
        lvl('state_led', 'State-led', 'The state steers development and controls risks across the whole process.'),
        lvl('principles_based', 'Principles-based', 'Sector regulators apply cross-cutting principles.'),
        lvl('multistakeholder', 'Multistakeholder', 'International soft law agreed among states and stakeholders.'),
      ],
    },
  ],
};

export const CODEBOOKS: Readonly<Record<string, Codebook>> = { [CODEBOOK_V1.version]: CODEBOOK_V1 };
