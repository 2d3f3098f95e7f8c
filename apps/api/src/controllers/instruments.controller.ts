import { Controller, Get, Param, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiParam, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import { InstrumentId } from '@regstream/domain';
import { ProblemException, RequireScope, validationProblem } from '@regstream/http';
import type { Request, Response } from 'express';
import { BITEMPORAL_QUERIES, coverage, freshness, JURISDICTIONS_QUERY, milestoneSchema, SCHEMAS } from '../openapi';
import { QueryParams } from '../params';
import { QueriesService } from '../queries.service';
import { answer } from '../respond';

@ApiTags('read')
@ApiBearerAuth()
@RequireScope('read')
@Controller('v1/instruments')
export class InstrumentsController {
  constructor(private readonly queries: QueriesService) {}

  @Get()
  @ApiOperation({ summary: 'Instruments known at knownAt, with their status at asOf and citations' })
  @BITEMPORAL_QUERIES()
  @JURISDICTIONS_QUERY()
  @ApiQuery({ name: 'instrument', required: false, description: 'Comma-separated instrument ids' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 5,000 (default 1,000)' })
  @ApiQuery({ name: 'after', required: false, description: 'Page on: the last instrument id of the previous page' })
  @ApiOkResponse({ schema: { type: 'object', properties: { asOf: { type: 'string' }, knownAt: { type: 'string', nullable: true }, instruments: { type: 'array', items: SCHEMAS.instrument }, freshness, coverage } } })
  async list(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const p = new QueryParams(query);
    const base = p.bitemporal();
    const jurisdictions = p.jurisdictions();
    const instruments = p.instruments();
    const limit = p.int('limit', 1, 5000);
    const after = typeof query['after'] === 'string' && query['after'] !== '' ? query['after'] : undefined;
    if (after !== undefined && !InstrumentId.safeParse(after).success) p.fail('after', 'not an instrument id');
    p.check();
    await answer(req, res, () =>
      this.queries.instruments({
        ...base,
        ...(jurisdictions ? { jurisdictions } : {}),
        ...(instruments ? { instruments } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(after !== undefined ? { after } : {}),
      }),
      base.asOf !== undefined ? this.queries.revalidation(base.model) : null,
    );
  }

  @Get(':id')
  @ApiOperation({ summary: 'One instrument: status, milestones with citations, and when each provision applies' })
  @ApiParam({ name: 'id', description: 'Instrument id, e.g. eu-ai-act' })
  @BITEMPORAL_QUERIES()
  @ApiOkResponse({
    schema: {
      type: 'object',
      properties: {
        asOf: { type: 'string' },
        knownAt: { type: 'string', nullable: true },
        instrument: SCHEMAS.instrument,
        milestones: { type: 'array', items: milestoneSchema },
        applicability: {
          type: 'array',
          items: { type: 'object', properties: { provision: { type: 'string' }, appliesFrom: { type: 'string' }, history: { type: 'array', items: { type: 'object' } } } },
        },
        freshness,
        coverage,
      },
    },
  })
  @ApiResponse({ status: 404, description: 'Not known at knownAt' })
  async one(@Param('id') id: string, @Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    if (!InstrumentId.safeParse(id).success) throw validationProblem([{ path: 'path.id', message: 'not an instrument id' }], 400);
    const p = new QueryParams(query);
    const base = p.bitemporal();
    p.check();
    await answer(
      req,
      res,
      async () => {
        const r = await this.queries.instrument(id, base);
        if (!r) throw new ProblemException(404, 'not-found', 'Unknown instrument', `no instrument '${id}' is known${base.knownAt ? ` as of ${base.knownAt}` : ''}`);
        return r;
      },
      base.asOf !== undefined ? this.queries.revalidation(base.model) : null,
    );
  }
}
