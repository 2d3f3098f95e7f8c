import { applyDecorators } from '@nestjs/common';
import { ApiQuery } from '@nestjs/swagger';

/** OpenAPI fragments shared by the read endpoints. */
export const BITEMPORAL_QUERIES = () =>
  applyDecorators(
    ApiQuery({ name: 'asOf', required: false, description: 'Valid time: how the world stood on this date (YYYY-MM-DD or RFC 3339). Default: now.' }),
    ApiQuery({ name: 'knownAt', required: false, description: 'Known time: as it could be known on this date (publication, not import, for the corpus). Default: everything known.' }),
    ApiQuery({ name: 'model', required: false, description: 'A read model other than the live one: a version (v2) or a named research model built by a rebuild' }),
  );

export const JURISDICTIONS_QUERY = (description = 'Comma-separated jurisdiction codes (EU,US,CN,US-CA,INTL-OECD...)') =>
  ApiQuery({ name: 'jurisdictions', required: false, description });

const citation = {
  type: 'object',
  nullable: true,
  properties: { url: { type: 'string' }, pinpoint: { type: 'string' }, tier: { type: 'string', enum: ['primary', 'secondary'] }, retrievedAt: { type: 'string' }, lastVerifiedAt: { type: 'string' } },
};
export const freshness = {
  type: 'object',
  description: 'How fresh the read model is: the highest log position applied and when it last changed',
  properties: { position: { type: 'string', nullable: true }, updatedAt: { type: 'string', nullable: true } },
};
export const coverage = { type: 'object', description: 'Per dimension: share of the jurisdictions asked for that are coded', additionalProperties: { type: 'number' } };
const versions = { codebookVersion: { type: 'string' }, methodologyVersion: { type: 'string' } };

export const milestoneSchema = {
  type: 'object',
  properties: {
    eventId: { type: 'string' },
    instrumentId: { type: 'string' },
    instrumentTitle: { type: 'string', nullable: true },
    type: { type: 'string' },
    validTime: { type: 'string' },
    knownTime: { type: 'string' },
    provision: { type: 'string' },
    summary: { type: 'string' },
    future: { type: 'boolean', description: 'valid time after asOf' },
    citation,
    details: { type: 'object' },
  },
};

export const SCHEMAS = {
  timeline: {
    type: 'object',
    properties: {
      asOf: { type: 'string' },
      knownAt: { type: 'string', nullable: true },
      freshness,
      lanes: { type: 'array', items: { type: 'object', properties: { jurisdiction: { type: 'string' }, milestones: { type: 'array', items: milestoneSchema } } } },
      truncated: { type: 'boolean' },
      coverage,
    },
  },
  instrument: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      jurisdiction: { type: 'string' },
      kind: { type: 'string' },
      legalForce: { type: 'string' },
      issuingBody: { type: 'string' },
      titles: { type: 'object' },
      identifiers: { type: 'object' },
      status: { type: 'string', description: 'registered, proposed, in_negotiation, agreed, adopted, signed, published, in_force, applicable, lapsed, superseded, revoked, repealed' },
      statusSince: { type: 'string', nullable: true },
      citation,
    },
  },
  stance: {
    type: 'object',
    properties: {
      jurisdiction: { type: 'string' },
      dimension: { type: 'string' },
      value: {},
      validFrom: { type: 'string' },
      validTo: { type: 'string', nullable: true },
      knownAt: { type: 'string' },
      confidence: { type: 'number' },
      basis: { type: 'string' },
      provisions: { type: 'array', items: { type: 'string' } },
      evidence: { type: 'string' },
      citation,
      eventId: { type: 'string' },
      codebookVersion: { type: 'string' },
    },
  },
  pair: {
    type: 'object',
    properties: {
      a: { type: 'string' },
      b: { type: 'string' },
      value: { type: 'number', nullable: true },
      band: { type: 'array', items: { type: 'number' }, nullable: true },
      coverage: { type: 'object', properties: { covered: { type: 'array', items: { type: 'string' } }, missing: { type: 'array', items: { type: 'string' } }, weightShare: { type: 'number' } } },
      ...versions,
    },
  },
  global: {
    type: 'object',
    properties: { value: { type: 'number', nullable: true }, dispersion: { type: 'number', nullable: true }, pairs: { type: 'integer' }, pairsWithoutOverlap: { type: 'integer' }, meanCoverage: { type: 'number' }, ...versions },
  },
  versions,
};
