import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger, silentLogger, type Logger } from '@flotilla/log';
import { digestOf, parseDigest } from '@flotilla/oci';
import { OriginClient } from '@flotilla/origin';
import type { P2PNode } from '@flotilla/p2p';
import { TokenBucket } from '@flotilla/ratelimit';
import { ContentStore } from '@flotilla/store';
import {
  choosePieceLength,
  handleSched,
  pieceCountFor,
  pieceRange,
  type SchedRequest,
  type SchedResponse,
  type TaskMeta,
} from '@flotilla/wire';
import { ActiveDownloads } from '../src/swarm/active-downloads.ts';
import { CORRUPT_UPLOAD_ENV, PieceServer } from '../src/swarm/piece-server.ts';

/** Random bytes with the TaskMeta the scheduler would publish for them (every piece digest known). */
export interface TestBlob {
  bytes: Buffer;
  digest: string;
  meta: TaskMeta;
}

export function makeBlob(size: number): TestBlob {
  const bytes = randomBytes(size);
  const digest = digestOf(bytes);
  const pieceLength = choosePieceLength(size);
  const pieceCount = pieceCountFor(size, pieceLength);
  const pieceDigests = Array.from({ length: pieceCount }, (_, i) => {
    const { start, end } = pieceRange(i, size, pieceLength);
    return `sha256:${createHash('sha256').update(bytes.subarray(start, end)).digest('hex')}`;
  });
  return { bytes, digest, meta: { digest, size, pieceLength, pieceCount, pieceDigests } };
}

export async function tempDir(name: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `flotilla-${name}-`));
}

/** A store in a fresh temp dir, holding these blobs committed. */
export async function storeWith(blobs: TestBlob[]): Promise<ContentStore> {
  const store = await ContentStore.open(await tempDir('swarm-store'), silentLogger());
  for (const blob of blobs) {
    const writer = await store.createWriter(parseDigest(blob.digest), blob.bytes.length);
    await writer.write(0, blob.bytes);
    await writer.commit({ source: 'test' });
  }
  return store;
}

/** A piece server on `node` for a store holding `blobs`; `corrupt` turns the test-only fault switch on for it. */
export async function servePieces(node: P2PNode, blobs: TestBlob[], options: { corrupt?: boolean } = {}): Promise<ContentStore> {
  const store = await storeWith(blobs);
  if (options.corrupt) process.env[CORRUPT_UPLOAD_ENV] = '1';
  try {
    await new PieceServer({
      node,
      store,
      active: new ActiveDownloads(),
      uploadSlots: 16,
      uploadQueueMs: 1_000,
      uploadBucket: new TokenBucket(0),
      logger: silentLogger(),
    }).start();
  } finally {
    delete process.env[CORRUPT_UPLOAD_ENV];
  }
  return store;
}

export interface FakeScheduler {
  node: P2PNode;
  address: string;
  requests: SchedRequest[];
  /** Every `failed` entry of every report. */
  failures(): Array<{ index: number; peer: string; reason: string }>;
}

/**
 * A scheduler stand-in on `node`: assigns `blob` with the given parents (every digest known), acks reports, and
 * answers reschedule with back-to-source unless `onRequest` answers first.
 */
export async function fakeScheduler(
  node: P2PNode,
  blob: TestBlob,
  parents: P2PNode[],
  onRequest?: (request: SchedRequest) => SchedResponse | undefined,
): Promise<FakeScheduler> {
  const requests: SchedRequest[] = [];
  await handleSched(node, async (request) => {
    requests.push(request);
    const custom = onRequest?.(request);
    if (custom) return custom;
    switch (request.type) {
      case 'register':
        return { type: 'registered', ttlMs: 60_000 };
      case 'task':
        return {
          type: 'task-assigned',
          meta: { ...blob.meta, pieceDigests: [...blob.meta.pieceDigests] },
          parents: parents.map((p) => ({ peerId: p.peerId.toString(), addresses: p.getMultiaddrs().map(String) })),
        };
      case 'report':
        return { type: 'report-ack' };
      case 'reschedule':
        return { type: 'back-to-source', reason: 'test scheduler has no other parents' };
      case 'leave':
      case 'holding':
        return { type: 'ok' };
    }
  });
  return {
    node,
    address: node.getMultiaddrs()[0]!.toString(),
    requests,
    failures: () => requests.flatMap((r) => (r.type === 'report' ? r.failed : [])),
  };
}

/** An origin client for tests where the origin must not be needed (nothing listens on port 9). */
export function unusedOrigin(): OriginClient {
  return new OriginClient({
    access: () => ({ insecure: true }),
    connectTimeoutMs: 500,
    firstByteTimeoutMs: 500,
    idleTimeoutMs: 500,
    logger: silentLogger(),
  });
}

/** A JSON logger whose lines are kept for assertions. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const text of chunk.toString().split('\n')) if (text) lines.push(JSON.parse(text) as Record<string, unknown>);
      callback();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'debug', destination }), lines };
}

export async function fileBytes(path: string): Promise<Buffer> {
  return readFile(path);
}
