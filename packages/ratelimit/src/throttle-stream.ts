import { Transform, type TransformCallback } from 'node:stream';
import type { TokenBucket } from './token-bucket.ts';

/** A pass-through stream that releases each chunk when the bucket allows it (origin traffic). */
export function throttleStream(bucket: TokenBucket): Transform {
  if (bucket.unlimited) return new Transform({ transform: (chunk, _enc, cb) => cb(null, chunk) });
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      const waitMs = bucket.reserve(chunk.byteLength);
      if (waitMs <= 0) callback(null, chunk);
      else setTimeout(() => callback(null, chunk), waitMs);
    },
  });
}
