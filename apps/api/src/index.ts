export * from './api.module';
export * from './queries.service';
export * from './params';
export * from './respond';
export * from './stream/stream.service';
