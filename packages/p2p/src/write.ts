import type { Stream, StreamCloseEvent } from '@libp2p/interface';
import { closedError, StreamClosedError } from './errors.ts';

/**
 * Writes with real sender backpressure: waits for 'drain' (and rejects on close/abort) when send() returns false.
 * Needed because `stream.onDrain()` in @libp2p/utils 7.4 caches its promise and resolves at once after the first
 * drain, which lets a fast writer queue a whole blob in memory.
 */
export async function writeAll(stream: Stream, data: Uint8Array | Uint8Array[]): Promise<void> {
  const chunks = data instanceof Uint8Array ? [data] : data;
  for (const chunk of chunks) {
    if (chunk.byteLength === 0) continue;
    if (stream.writeStatus !== 'writable') throw new StreamClosedError(`cannot write: stream is ${stream.status}`);
    if (stream.writableNeedsDrain) await drained(stream);
    if (!stream.send(chunk)) await drained(stream);
  }
}

/** Resolves on the next 'drain'; rejects if the stream closes first. */
export function drained(stream: Stream): Promise<void> {
  if (stream.writeStatus !== 'writable') return Promise.reject(new StreamClosedError(`stream is ${stream.status}`));
  if (!stream.writableNeedsDrain) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (evt: StreamCloseEvent): void => {
      cleanup();
      reject(closedError(evt));
    };
    const cleanup = (): void => {
      stream.removeEventListener('drain', onDrain);
      stream.removeEventListener('close', onClose);
    };
    stream.addEventListener('drain', onDrain);
    stream.addEventListener('close', onClose);
  });
}
