export * from './digest.ts';
export * from './reference.ts';
export * from './errors.ts';
export * from './media-types.ts';
