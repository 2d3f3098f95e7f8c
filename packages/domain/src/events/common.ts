import { z } from 'zod';
import { IsoDate } from '../time';

export const JurisdictionCode = z
  .string()
  .regex(/^(?:[A-Z]{2}(?:-[A-Z0-9]{1,3})?|INTL-[A-Z0-9]{2,12}|EU)$/, 'expected a jurisdiction code such as EU, CN, US-CA or INTL-OECD');
export type JurisdictionCode = z.infer<typeof JurisdictionCode>;

export const InstrumentId = z
  .string()
  .min(3)
  .max(120)
  .regex(/^[a-z0-9]+(?:-[a-z0-9]+)*$/, 'expected a kebab-case instrument id');

export const InstrumentKind = z.enum([
  'law',
  'regulation',
  'executive_order',
  'guideline',
  'standard',
  'strategy',
  'declaration',
  'treaty',
]);
export type InstrumentKind = z.infer<typeof InstrumentKind>;

export const LegalForce = z.enum(['binding', 'voluntary', 'political']);
export type LegalForce = z.infer<typeof LegalForce>;

export const VerificationTier = z.enum(['primary', 'secondary']);

const HttpUrl = z
  .string()
  .max(2048)
  .refine((s) => /^https?:\/\/[^\s/$.?#].[^\s]*$/i.test(s), 'expected an http(s) URL');

export const Citation = z.strictObject({
  url: HttpUrl,
  pinpoint: z.string().max(500).optional(),
  tier: VerificationTier,
  retrievedAt: IsoDate,
  lastVerifiedAt: IsoDate,
});
export type Citation = z.infer<typeof Citation>;

/** A recorded disagreement between sources about one field. */
export const Dispute = z.strictObject({
  field: z.string().min(1).max(100),
  values: z.array(z.string().max(200)).min(2),
  note: z.string().max(2000),
  citations: z.array(z.strictObject({ url: HttpUrl, pinpoint: z.string().max(500).optional() })).optional(),
});
export type Dispute = z.infer<typeof Dispute>;

export const ShortText = z.string().min(1).max(2000);
export const LongText = z.string().min(1).max(20000);
