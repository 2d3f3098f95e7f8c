export * from './ingestor';
export * from './ingest.module';
export * from './events/ingest.service';
export * from './relay/relay.service';
