import { Controller, Get, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { MILESTONE_TYPES } from '@regstream/domain';
import { RequireScope } from '@regstream/http';
import type { Request, Response } from 'express';
import { BITEMPORAL_QUERIES, JURISDICTIONS_QUERY, SCHEMAS } from '../openapi';
import { QueryParams } from '../params';
import { QueriesService } from '../queries.service';
import { answer } from '../respond';

@ApiTags('read')
@ApiBearerAuth()
@RequireScope('read')
@Controller('v1/timeline')
export class TimelineController {
  constructor(private readonly queries: QueriesService) {}

  @Get()
  @ApiOperation({ summary: 'Milestones per jurisdiction in valid-time order, future ones included, with citations' })
  @BITEMPORAL_QUERIES()
  @JURISDICTIONS_QUERY()
  @ApiQuery({ name: 'instrument', required: false, description: 'Comma-separated instrument ids' })
  @ApiQuery({ name: 'type', required: false, description: 'Comma-separated milestone types' })
  @ApiQuery({ name: 'from', required: false, description: 'Earliest valid time' })
  @ApiQuery({ name: 'to', required: false, description: 'Latest valid time' })
  @ApiQuery({ name: 'limit', required: false, description: '1 to 10,000 milestones (default 1,000); `truncated` says when more exist' })
  @ApiOkResponse({ schema: SCHEMAS.timeline })
  async timeline(@Query() query: Record<string, unknown>, @Req() req: Request, @Res() res: Response): Promise<void> {
    const p = new QueryParams(query);
    const base = p.bitemporal();
    const jurisdictions = p.jurisdictions();
    const instruments = p.instruments();
    const types = query['type'] === undefined ? undefined : p.oneOfList('type', MILESTONE_TYPES);
    const from = p.instant('from');
    const to = p.instant('to');
    const limit = p.int('limit', 1, 10000);
    p.check();
    await answer(req, res, () =>
      this.queries.timeline({
        ...base,
        ...(jurisdictions ? { jurisdictions } : {}),
        ...(instruments ? { instruments } : {}),
        ...(types ? { types } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(limit !== undefined ? { limit } : {}),
      }),
      base.asOf !== undefined ? this.queries.revalidation(base.model) : null,
    );
  }
}
