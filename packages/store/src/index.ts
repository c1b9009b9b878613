export * from './types.ts';
export * from './errors.ts';
export type { BlobWriter } from './blob-writer.ts';
export { ContentStore } from './content-store.ts';
