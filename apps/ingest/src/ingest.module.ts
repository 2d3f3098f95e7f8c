import { type DynamicModule, Module } from '@nestjs/common';
import { EventsController } from './events/events.controller';
import { IngestService } from './events/ingest.service';
import { RELAY_ENABLED, RelayService } from './relay/relay.service';

/** Write side: POST/GET /v1/events and the outbox relay. */
@Module({})
export class IngestModule {
  static register(opts: { relay: boolean } = { relay: true }): DynamicModule {
    return {
      module: IngestModule,
      controllers: [EventsController],
      providers: [IngestService, RelayService, { provide: RELAY_ENABLED, useValue: opts.relay }],
      exports: [IngestService, RelayService],
    };
  }
}
