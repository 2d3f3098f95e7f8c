export * from './problem';
export * from './api-keys';
export * from './auth';
export * from './rate-limit';
export * from './health';
export * from './bootstrap';
