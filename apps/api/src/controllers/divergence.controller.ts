import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '@regstream/http';
import type { Request, Response } from 'express';
import { BITEMPORAL_QUERIES, coverage, freshness, JURISDICTIONS_QUERY, SCHEMAS } from '../openapi';
import { QueryParams } from '../params';
import { QueriesService } from '../queries.service';
import { answer } from '../respond';

@ApiTags('read')
@ApiBearerAuth()
@RequireScope('read')
@Controller('v1')
export class DivergenceController {
  constructor(private readonly queries: QueriesService) {}

  @Get('divergence')
  @ApiOperation({ summary: 'Pairwise divergence matrix, global index with dispersion, coverage and distance to the reference regime' })
  @BITEMPORAL_QUERIES()
  @JURISDICTIONS_QUERY('Comma-separated jurisdiction codes; default EU,US,CN,GB,JP,KR')
  @ApiQuery({ name: 'dimension', required: false, description: 'Restrict to codebook dimensions (comma-separated)' })
  @ApiQuery({ name: 'variant', required: false, enum: ['all', 'de_jure'], description: 'de_jure keeps only codings resting on binding instruments' })
  @ApiQuery({ name: 'weights', required: false, enum: ['codebook', 'equal'] })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: {
        asOf: { type: 'string' },
        knownAt: { type: 'string', nullable: true },
        ...SCHEMAS.versions,
        jurisdictions: { type: 'array', items: { type: 'string' } },
        pairs: { type: 'array', items: SCHEMAS.pair },
        global: SCHEMAS.global,
        coverage,
        reference: { type: 'array', items: { type: 'object', properties: { jurisdiction: { type: 'string' }, value: { type: 'number', nullable: true } } } },
        freshness,
      },
    },
  })
  async divergence(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const p = new QueryParams(query);
    const base = p.bitemporal();
    const jurisdictions = p.jurisdictions();
    const dimensions = p.dimensions();
    const variant = p.oneOf('variant', ['all', 'de_jure'] as const);
    const weights = p.oneOf('weights', ['codebook', 'equal'] as const);
    if (jurisdictions && jurisdictions.length < 2) p.fail('jurisdictions', 'at least two jurisdictions');
    p.check();
    await answer(req, res, () =>
      this.queries.divergence({
        ...base,
        ...(jurisdictions ? { jurisdictions } : {}),
        ...(dimensions ? { dimensions } : {}),
        ...(variant ? { variant } : {}),
        ...(weights ? { weights } : {}),
      }),
      base.asOf !== undefined ? this.queries.revalidation(base.model) : null,
    );
  }

  @Get('divergence/series')
  @ApiOperation({ summary: 'The index over valid time, as change points, as known at knownAt: global (with dispersion) or one pair (a, b)' })
  @ApiQuery({ name: 'knownAt', required: false })
  @ApiQuery({ name: 'model', required: false })
  @JURISDICTIONS_QUERY('For the global series; default EU,US,CN,GB,JP,KR')
  @ApiQuery({ name: 'dimension', required: false, description: 'One codebook dimension; default all (aggregated)' })
  @ApiQuery({ name: 'a', required: false, description: 'With b: the series of one pair' })
  @ApiQuery({ name: 'b', required: false })
  @ApiQuery({ name: 'from', required: false, description: 'Earliest valid time (the point in force then comes first)' })
  @ApiQuery({ name: 'to', required: false, description: 'Latest valid time' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: {
        points: {
          type: 'array',
          items: {
            type: 'object',
            properties: { validFrom: { type: 'string' }, value: { type: 'number', nullable: true }, dispersion: { type: 'number', nullable: true }, causedBy: { type: 'array', items: { type: 'string' } } },
          },
        },
        ...SCHEMAS.versions,
        freshness,
      },
    },
  })
  async series(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const p = new QueryParams(query);
    const knownAt = p.instant('knownAt');
    const model = p.model();
    const jurisdictions = p.jurisdictions();
    const dimensions = p.dimensions('dimension', 1);
    const a = p.jurisdiction('a');
    const b = p.jurisdiction('b');
    const from = p.instant('from');
    const to = p.instant('to');
    const limit = p.int('limit', 1, 20000);
    if ((a === undefined) !== (b === undefined)) p.fail(a === undefined ? 'a' : 'b', 'a pair needs both a and b');
    if (a !== undefined && a === b) p.fail('b', 'a and b must differ');
    if (jurisdictions && jurisdictions.length < 2) p.fail('jurisdictions', 'at least two jurisdictions');
    p.check();
    await answer(req, res, () =>
      this.queries.series({
        ...(knownAt !== undefined ? { knownAt } : {}),
        ...(model !== undefined ? { model } : {}),
        ...(jurisdictions ? { jurisdictions } : {}),
        ...(dimensions?.[0] !== undefined ? { dimension: dimensions[0] } : {}),
        ...(a !== undefined && b !== undefined ? { a, b } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(limit !== undefined ? { limit } : {}),
      }),
      this.queries.revalidation(model),
    );
  }

  @Get('gap')
  @ApiOperation({ summary: 'Directional compliance gap: what a deployer compliant in `from` still owes in `to`' })
  @BITEMPORAL_QUERIES()
  @ApiQuery({ name: 'from', required: true, description: 'Jurisdiction the deployer already complies with' })
  @ApiQuery({ name: 'to', required: true, description: 'Jurisdiction it wants to enter' })
  @ApiOkResponse({ description: 'The domain ComplianceGap (items, score, differentInKind, missing, codebookVersion) plus asOf, knownAt, methodologyVersion, coverage and freshness' })
  async gap(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const p = new QueryParams(query);
    const base = p.bitemporal();
    const from = p.jurisdiction('from', true);
    const to = p.jurisdiction('to', true);
    if (from !== undefined && from === to) p.fail('to', 'from and to must differ');
    p.check();
    await answer(req, res, () => this.queries.gap({ ...base, from: from as string, to: to as string }), base.asOf !== undefined ? this.queries.revalidation(base.model) : null);
  }

  @Get('upcoming')
  @ApiOperation({ summary: 'Provisions that start to apply within the next `days` after asOf, as known at knownAt' })
  @BITEMPORAL_QUERIES()
  @JURISDICTIONS_QUERY()
  @ApiQuery({ name: 'instrument', required: false })
  @ApiQuery({ name: 'days', required: false, description: '1 to 3,650 (default 365)' })
  @ApiQuery({ name: 'limit', required: false })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: {
        items: { type: 'array', items: { type: 'object', properties: { instrumentId: { type: 'string' }, jurisdiction: { type: 'string' }, provision: { type: 'string' }, appliesFrom: { type: 'string' } } } },
        freshness,
        coverage,
      },
    },
  })
  async upcoming(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const p = new QueryParams(query);
    const base = p.bitemporal();
    const jurisdictions = p.jurisdictions();
    const instruments = p.instruments();
    const days = p.int('days', 1, 3650);
    const limit = p.int('limit', 1, 10000);
    p.check();
    await answer(req, res, () =>
      this.queries.upcoming({
        ...base,
        ...(jurisdictions ? { jurisdictions } : {}),
        ...(instruments ? { instruments } : {}),
        ...(days !== undefined ? { days } : {}),
        ...(limit !== undefined ? { limit } : {}),
      }),
      base.asOf !== undefined ? this.queries.revalidation(base.model) : null,
    );
  }
}
