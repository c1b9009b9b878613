export * from './token-bucket.ts';
export * from './throttle-stream.ts';
