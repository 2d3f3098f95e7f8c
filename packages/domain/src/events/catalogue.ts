import { z } from 'zod';
import { Codebook } from '../codebook/types';
import { IsoDate } from '../time';
import { Dispute, InstrumentId, InstrumentKind, JurisdictionCode, LegalForce, LongText, ShortText } from './common';

/*
 * The event catalogue. Type names are literal, past tense and stable: they are persisted and sent
 * on Kafka, so a rename is a new type plus an upcaster, never an edit.
 */

const milestoneBase = {
  instrumentId: InstrumentId,
  /** How precise valid time is; a month-only date is stored as the first of the month. */
  datePrecision: z.enum(['day', 'month', 'year']).optional(),
  summary: ShortText.optional(),
  disputes: z.array(Dispute).max(20).optional(),
};

export const InstrumentRegisteredV1 = z.strictObject({
  instrumentId: InstrumentId,
  jurisdiction: JurisdictionCode,
  kind: InstrumentKind,
  legalForce: LegalForce,
  issuingBody: ShortText,
  titles: z.strictObject({
    en: ShortText,
    original: ShortText.optional(),
    originalLang: z.string().regex(/^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$/).optional(),
  }),
  identifiers: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,40}$/), z.string().min(1).max(300)).default({}),
});

export const InstrumentProposedV1 = z.strictObject({ ...milestoneBase });
export const PositionAdoptedV1 = z.strictObject({ ...milestoneBase, body: ShortText.optional() });
export const PoliticalAgreementReachedV1 = z.strictObject({ ...milestoneBase });
export const InstrumentAdoptedV1 = z.strictObject({ ...milestoneBase });
export const InstrumentSignedV1 = z.strictObject({ ...milestoneBase });
export const InstrumentPublishedV1 = z.strictObject({ ...milestoneBase, publication: ShortText.optional() });
export const InstrumentEnteredIntoForceV1 = z.strictObject({ ...milestoneBase });
export const ProvisionBecameApplicableV1 = z.strictObject({ ...milestoneBase, provision: ShortText });
export const ApplicationPostponedV1 = z.strictObject({
  ...milestoneBase,
  provision: ShortText,
  previousDate: IsoDate,
  newDate: IsoDate,
  byInstrument: InstrumentId.optional(),
});
export const ApplicationBroughtForwardV1 = ApplicationPostponedV1;
export const InstrumentAmendedV1 = z.strictObject({ ...milestoneBase, byInstrument: InstrumentId.optional() });
export const InstrumentRevokedV1 = z.strictObject({
  ...milestoneBase,
  mode: z.enum(['revoked', 'repealed']),
  byInstrument: InstrumentId.optional(),
});
export const InstrumentSupersededV1 = z.strictObject({ ...milestoneBase, byInstrument: InstrumentId });
export const InstrumentLapsedV1 = z.strictObject({ ...milestoneBase });
export const GuidanceIssuedV1 = z.strictObject({
  ...milestoneBase,
  guidanceKind: z.enum(['guidance', 'code_of_practice']),
  title: ShortText,
});
export const StandardPublishedV1 = z.strictObject({ ...milestoneBase, standardNumber: ShortText });

export const StanceCodedV1 = z.strictObject({
  jurisdiction: JurisdictionCode,
  codebookVersion: z.string().regex(/^\d+\.\d+\.\d+$/),
  dimension: z.string().regex(/^[a-z][a-z0-9_]*$/),
  value: z.union([z.number().int().min(0).max(100), z.string().min(1).max(100), z.array(z.string().min(1).max(100)).max(50)]),
  provisions: z.array(z.string().min(1).max(300)).max(50),
  evidence: LongText,
  coder: z.string().min(1).max(100),
  confidence: z.number().min(0).max(1),
  /** Strongest legal force among the instruments the coding rests on (drives the de jure variant). */
  basis: LegalForce.optional(),
});

export const RecordCorrectedV1 = z.strictObject({
  targetEventId: z.string().min(1).max(100),
  /** Replacement values: `validtime`, and any top-level data fields of the target. */
  changes: z.record(z.string().min(1).max(100), z.unknown()).refine((c) => Object.keys(c).length > 0, 'nothing to correct'),
  reason: ShortText,
});
export const RecordRetractedV1 = z.strictObject({ targetEventId: z.string().min(1).max(100), reason: ShortText });
export const CodebookPublishedV1 = z.strictObject({ codebook: Codebook });

/** Every current event type with its data schema. */
export const EVENT_DATA_SCHEMAS = {
  InstrumentRegistered: InstrumentRegisteredV1,
  InstrumentProposed: InstrumentProposedV1,
  PositionAdopted: PositionAdoptedV1,
  PoliticalAgreementReached: PoliticalAgreementReachedV1,
  InstrumentAdopted: InstrumentAdoptedV1,
  InstrumentSigned: InstrumentSignedV1,
  InstrumentPublished: InstrumentPublishedV1,
  InstrumentEnteredIntoForce: InstrumentEnteredIntoForceV1,
  ProvisionBecameApplicable: ProvisionBecameApplicableV1,
  ApplicationPostponed: ApplicationPostponedV1,
  ApplicationBroughtForward: ApplicationBroughtForwardV1,
  InstrumentAmended: InstrumentAmendedV1,
  InstrumentRevoked: InstrumentRevokedV1,
  InstrumentSuperseded: InstrumentSupersededV1,
  InstrumentLapsed: InstrumentLapsedV1,
  GuidanceIssued: GuidanceIssuedV1,
  StandardPublished: StandardPublishedV1,
  StanceCoded: StanceCodedV1,
  RecordCorrected: RecordCorrectedV1,
  RecordRetracted: RecordRetractedV1,
  CodebookPublished: CodebookPublishedV1,
} as const;

export type EventType = keyof typeof EVENT_DATA_SCHEMAS;
export const EVENT_TYPES = Object.keys(EVENT_DATA_SCHEMAS) as EventType[];
export type EventData<T extends EventType> = z.infer<(typeof EVENT_DATA_SCHEMAS)[T]>;

/** Current schema version of each type; older versions are upcast on read. */
export const CURRENT_SCHEMA_VERSION: Readonly<Record<EventType, number>> = Object.fromEntries(
  EVENT_TYPES.map((t) => [t, 1]),
) as Record<EventType, number>;

export const MILESTONE_TYPES = [
  'InstrumentProposed',
  'PositionAdopted',
  'PoliticalAgreementReached',
  'InstrumentAdopted',
  'InstrumentSigned',
  'InstrumentPublished',
  'InstrumentEnteredIntoForce',
  'ProvisionBecameApplicable',
  'ApplicationPostponed',
  'ApplicationBroughtForward',
  'InstrumentAmended',
  'InstrumentRevoked',
  'InstrumentSuperseded',
  'InstrumentLapsed',
  'GuidanceIssued',
  'StandardPublished',
] as const satisfies readonly EventType[];
export type MilestoneType = (typeof MILESTONE_TYPES)[number];

export function isEventType(t: string): t is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_DATA_SCHEMAS, t);
}

export function isMilestoneType(t: string): t is MilestoneType {
  return (MILESTONE_TYPES as readonly string[]).includes(t);
}
