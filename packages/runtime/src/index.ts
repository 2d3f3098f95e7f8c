export * from './infrastructure';
export * from './migrations';
export * from './module';
export * from './serve';
