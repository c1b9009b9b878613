export * from './token-bucket.ts';
export * from './throttle-stream.ts';
export * from './upload-queue.ts';
