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
@Controller('v1/stances')
export class StancesController {
  constructor(private readonly queries: QueriesService) {}

  @Get()
  @ApiOperation({ summary: 'The stance matrix (jurisdiction × dimension) valid at asOf as known at knownAt, with validity intervals and evidence' })
  @BITEMPORAL_QUERIES()
  @JURISDICTIONS_QUERY('Comma-separated jurisdiction codes; default every coded jurisdiction')
  @ApiQuery({ name: 'dimension', required: false, description: 'Comma-separated codebook dimensions' })
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: { asOf: { type: 'string' }, knownAt: { type: 'string', nullable: true }, codebookVersion: { type: 'string' }, stances: { type: 'array', items: SCHEMAS.stance }, coverage, freshness },
    },
  })
  async stances(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const p = new QueryParams(query);
    const base = p.bitemporal();
    const jurisdictions = p.jurisdictions();
    const dimensions = p.dimensions();
    p.check();
    await answer(req, res, () => this.queries.stances({ ...base, ...(jurisdictions ? { jurisdictions } : {}), ...(dimensions ? { dimensions } : {}) }), base.asOf !== undefined ? this.queries.revalidation(base.model) : null);
  }
}
