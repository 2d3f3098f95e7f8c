export * from './queue-contract';
export * from './bus-contract';
