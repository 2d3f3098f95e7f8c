export * from './ids';
export * from './load';
