export * from './postgres';
export * from './kafka';
export * from './wait';
export * from './processes';
export * from './faults';
