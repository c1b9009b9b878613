import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { P2PNode } from '../src/node.ts';
import { StreamReader } from '../src/reader.ts';
import { writeAll } from '../src/write.ts';

const CHUNK = 256 * 1024;

export interface BulkSender {
  /** sha256 hex of everything sent, once the handler finished. */
  sent: Promise<string>;
  /** Largest number of bytes the sender's stream held unsent. */
  peakWriteBuffer: () => number;
}

/** Serves `size` random bytes on `protocol` to whoever opens a stream, with sender backpressure. */
export async function serveRandomBytes(node: P2PNode, protocol: string, size: number): Promise<BulkSender> {
  let peak = 0;
  const { promise: sent, resolve, reject } = Promise.withResolvers<string>();
  await node.handle(protocol, async (stream) => {
    try {
      const hash = createHash('sha256');
      for (let offset = 0; offset < size; offset += CHUNK) {
        const chunk = randomBytes(Math.min(CHUNK, size - offset));
        hash.update(chunk);
        await writeAll(stream, chunk);
        peak = Math.max(peak, stream.writeBufferLength);
      }
      await stream.close();
      resolve(hash.digest('hex'));
    } catch (err) {
      reject(err);
      stream.abort(err as Error);
    }
  });
  return { sent, peakWriteBuffer: () => peak };
}

export interface BulkReceipt {
  digest: string;
  peakBuffered: number;
}

/**
 * Reads `size` bytes from `protocol` on `server`, sleeping `delayMsPerMiB` after every MiB consumed
 * (a slow disk), and checks that the stream then ends cleanly.
 */
export async function fetchBytes(
  client: P2PNode,
  server: P2PNode,
  protocol: string,
  size: number,
  delayMsPerMiB = 0,
): Promise<BulkReceipt> {
  const stream = await client.dialProtocol(server.getMultiaddrs(), protocol);
  await stream.close(); // nothing to send: half-close our side
  const reader = new StreamReader(stream);
  const hash = createHash('sha256');
  let sinceSleep = 0;
  await reader.readBody(size, async (chunk) => {
    hash.update(chunk);
    sinceSleep += chunk.byteLength;
    if (delayMsPerMiB > 0 && sinceSleep >= 1024 * 1024) {
      sinceSleep = 0;
      await sleep(delayMsPerMiB);
    }
  });
  if ((await reader.readFrame(1)) !== undefined) throw new Error('expected a clean end after the body');
  return { digest: hash.digest('hex'), peakBuffered: reader.peakBufferedBytes };
}
