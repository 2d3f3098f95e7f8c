import { z } from 'zod';
import { Citation, Dispute, InstrumentId, InstrumentKind, JurisdictionCode, LegalForce, ShortText } from '../events/common';
import { IsoDate } from '../time';

/** The reviewable corpus format (docs/corpus-format.md). Unknown keys are errors: typos must not pass silently. */

const MilestoneCommon = {
  validFrom: IsoDate,
  knownAt: IsoDate,
  datePrecision: z.enum(['day', 'month', 'year']).optional(),
  summary: ShortText.optional(),
  citation: Citation,
  disputes: z.array(Dispute).optional(),
};

const Plain = <T extends string>(type: T) => z.strictObject({ type: z.literal(type), ...MilestoneCommon });
const DateMove = <T extends string>(type: T) =>
  z.strictObject({
    type: z.literal(type),
    ...MilestoneCommon,
    provision: ShortText,
    previousDate: IsoDate,
    newDate: IsoDate,
    byInstrument: InstrumentId.optional(),
  });

export const CorpusMilestone = z.discriminatedUnion('type', [
  Plain('InstrumentProposed'),
  z.strictObject({ type: z.literal('PositionAdopted'), ...MilestoneCommon, body: ShortText.optional() }),
  Plain('PoliticalAgreementReached'),
  Plain('InstrumentAdopted'),
  Plain('InstrumentSigned'),
  z.strictObject({ type: z.literal('InstrumentPublished'), ...MilestoneCommon, publication: ShortText.optional() }),
  Plain('InstrumentEnteredIntoForce'),
  z.strictObject({ type: z.literal('ProvisionBecameApplicable'), ...MilestoneCommon, provision: ShortText }),
  DateMove('ApplicationPostponed'),
  DateMove('ApplicationBroughtForward'),
  z.strictObject({ type: z.literal('InstrumentAmended'), ...MilestoneCommon, byInstrument: InstrumentId.optional() }),
  z.strictObject({
    type: z.literal('InstrumentRevoked'),
    ...MilestoneCommon,
    mode: z.enum(['revoked', 'repealed']),
    byInstrument: InstrumentId.optional(),
  }),
  z.strictObject({ type: z.literal('InstrumentSuperseded'), ...MilestoneCommon, byInstrument: InstrumentId }),
  Plain('InstrumentLapsed'),
  z.strictObject({
    type: z.literal('GuidanceIssued'),
    ...MilestoneCommon,
    guidanceKind: z.enum(['guidance', 'code_of_practice']),
    title: ShortText,
  }),
  z.strictObject({ type: z.literal('StandardPublished'), ...MilestoneCommon, standardNumber: ShortText }),
]);
export type CorpusMilestone = z.infer<typeof CorpusMilestone>;

export const CorpusInstrument = z.strictObject({
  id: InstrumentId,
  jurisdiction: JurisdictionCode,
  kind: InstrumentKind,
  legalForce: LegalForce,
  issuingBody: ShortText,
  titles: z.strictObject({
    en: ShortText,
    original: ShortText.optional(),
    originalLang: z.string().regex(/^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/).optional(),
  }),
  identifiers: z.record(z.string(), z.union([z.string(), z.number()]).transform(String)).optional(),
  citation: Citation,
  milestones: z.array(CorpusMilestone).min(1),
  notes: z.string().optional(),
});
export type CorpusInstrument = z.infer<typeof CorpusInstrument>;

export const CorpusStance = z.strictObject({
  jurisdiction: JurisdictionCode,
  dimension: z.string(),
  value: z.union([z.number().int(), z.string(), z.array(z.string())]),
  validFrom: IsoDate,
  knownAt: IsoDate,
  provisions: z.array(z.string()).default([]),
  evidence: z.string().min(1),
  coder: z.string().min(1),
  confidence: z.number().min(0).max(1),
  /** Legal force the coding rests on; required when a provision cites an instrument outside the corpus. */
  basis: LegalForce.optional(),
  citation: Citation,
  codebookVersion: z.string().optional(),
  notes: z.string().optional(),
});
export type CorpusStance = z.infer<typeof CorpusStance>;

export const CorpusFile = z.strictObject({
  jurisdiction: z.string().optional(),
  description: z.string().optional(),
  instruments: z.array(CorpusInstrument).optional(),
  stances: z.array(CorpusStance).optional(),
});
export type CorpusFile = z.infer<typeof CorpusFile>;
