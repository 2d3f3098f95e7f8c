export * from './random';
export * from './stored';
export * from './generator';
export * from './setup';
export * from './oracle';
