import { Module } from '@nestjs/common';
import { DivergenceController } from './controllers/divergence.controller';
import { InstrumentsController } from './controllers/instruments.controller';
import { StancesController } from './controllers/stances.controller';
import { TimelineController } from './controllers/timeline.controller';
import { QueriesService } from './queries.service';
import { StreamController } from './stream/stream.controller';
import { StreamService } from './stream/stream.service';

/**
 * The read API: timeline, instruments, stances, divergence (matrix, series), compliance gaps,
 * upcoming applicability and the live stream, all bitemporal (asOf, knownAt), with ETags and
 * freshness. Composed by apps/server; needs RuntimeModule.
 */
@Module({
  controllers: [TimelineController, InstrumentsController, StancesController, DivergenceController, StreamController],
  providers: [QueriesService, StreamService],
  exports: [QueriesService, StreamService],
})
export class ApiModule {}
