export * from './types';
export * from './kafka/cloudevents';
export * from './kafka/kafka';
export * from './memory/bus';
export * from './queue/types';
export * from './queue/inline';
export * from './queue/bullmq';
export * from './relay';
