export * from './client.ts';
export * from './endpoint.ts';
export * from './errors.ts';
export { readDockerConfigCredentials, type Credentials } from './docker-config.ts';
export type { BlobBody } from './pooled-body.ts';
export { DEFAULT_BLOB_TRANSPORT, type BlobTransportTuning } from './http1-transport.ts';
export { holdBytes, type HeldBytes } from './receive-buffers.ts';
