import { Controller, Get, Headers, Inject, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiProduces, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { EventStore } from '@regstream/event-store';
import { RequireScope, validationProblem } from '@regstream/http';
import { CLOCK, EVENT_STORE, INFRA, type Infrastructure } from '@regstream/runtime';
import type { Request, Response } from 'express';
import { StreamService } from './stream.service';
import { checkpointAt } from './tail';

@ApiTags('read')
@ApiBearerAuth()
@RequireScope('read')
@Controller('v1/stream')
export class StreamController {
  constructor(
    private readonly hub: StreamService,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(INFRA) private readonly infra: Infrastructure,
    @Inject(CLOCK) private readonly clock: () => Date,
  ) {}

  @Get()
  @ApiOperation({
    summary: 'Server-sent events: `regstream.event` for every new event (data: the stored event) and `divergence.changed` when the index moves',
    description: 'Each event carries `id: <log position>`. Reconnect with Last-Event-ID (or ?lastEventId=) to resume right after it. Browsers may pass the key as ?api_key=.',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false })
  @ApiQuery({ name: 'lastEventId', required: false })
  @ApiResponse({ status: 200, description: 'text/event-stream' })
  async stream(@Headers('last-event-id') header: string | undefined, @Query('lastEventId') query: string | undefined, @Req() req: Request, @Res() res: Response): Promise<void> {
    const last = header ?? (typeof query === 'string' ? query : undefined);
    let from = null;
    if (last !== undefined && last !== '') {
      from = await checkpointAt(this.store, this.infra.dataSource, last.trim());
      if (!from) throw validationProblem([{ path: header !== undefined ? 'header.Last-Event-ID' : 'query.lastEventId', message: 'not an event id of this stream' }], 400);
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();
    req.socket.setTimeout(0);
    res.write(`: regstream stream opened ${this.clock().toISOString()}\n\n`);
    await this.hub.subscribe(res, from);
  }
}
