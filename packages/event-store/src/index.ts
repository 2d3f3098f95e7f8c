export * from './types';
export * from './rows';
export { SqlEventStore, isUniqueViolation, type Sql } from './sql-store';
export * from './postgres';
export * from './sqlite';
export * from './memory';
export * from './datasource';
export * from './migrations/postgres';
export * from './migrations/sqlite';
