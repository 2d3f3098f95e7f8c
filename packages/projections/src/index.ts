/** Read models (bitemporal), their queries, checkpoints, dead letters, rebuild and checksum. */
export const PROJECTIONS_VERSION = 1;
export * from './time';
export * from './json';
export * from './sql';
export * from './schema';
export * from './tables';
export * from './migrations';
export * from './facts';
export * from './compute/versions';
export * from './compute/applicability';
export * from './compute/ledger';
export * from './compute/stances';
export * from './compute/divergence';
export * from './engine';
export * from './checksum';
export { Projector, type BatchOutcome, type DeadLetter, type ModelInfo, type RebuildOptions, type RebuildProgress, type RebuildResult, type ProjectorOptions } from './projector';
export * from './queries';
