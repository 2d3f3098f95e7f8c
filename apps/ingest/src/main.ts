import 'reflect-metadata';
import { newEventJsonSchema } from '@regstream/domain';
import { serveApp } from '@regstream/runtime';
import { IngestModule } from './ingest.module';

/** The ingest service on its own (distributed mode). REGSTREAM_RELAY=off leaves the relay to another process. */
serveApp({
  name: 'ingest',
  imports: (config) => [IngestModule.register({ relay: config.REGSTREAM_RELAY === 'on' })],
  schemas: { NewEvent: newEventJsonSchema() },
});
