import { parseDigest } from '@flotilla/oci';
import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { TokenBucket } from '@flotilla/ratelimit';
import type { ContentStore } from '@flotilla/store';
import { handlePiece, type TaskAssignedResponse } from '@flotilla/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PieceDownload } from '../src/swarm/piece-download.ts';
import { SchedulerClient } from '../src/swarm/scheduler-client.ts';
import {
  capturingLogger,
  fakeScheduler,
  fileBytes,
  makeBlob,
  servePieces,
  storeWith,
  unusedOrigin,
  type FakeScheduler,
  type TestBlob,
} from './swarm-support.ts';

const MiB = 1024 * 1024;
const PIECE_TIMEOUT_MS = 500;

describe('piece download from several parents', () => {
  let net: TestNetwork;
  const stores: ContentStore[] = [];
  const origin = unusedOrigin();

  beforeAll(async () => {
    net = await TestNetwork.create();
  });
  afterAll(async () => {
    await net.stop();
    await origin.close();
    await Promise.all(stores.map((s) => s.close()));
  });

  /** Runs one child download against the fake scheduler; returns the stored bytes and the child's log lines. */
  async function download(blob: TestBlob, scheduler: FakeScheduler, downloadRate = 0) {
    const child = await net.node();
    const { logger, lines } = capturingLogger();
    const client = new SchedulerClient({ node: child, address: scheduler.address, timeoutMs: 1_000, registration: { uploadSlots: 4 }, logger });
    const assignment = (await client.call({ type: 'task', digest: blob.digest, registry: '127.0.0.1:9', repository: 'test/blob' })) as TaskAssignedResponse;
    expect(assignment.type).toBe('task-assigned');
    const store = await storeWith([]);
    stores.push(store);
    const digest = parseDigest(blob.digest);
    const writer = await store.createWriter(digest, blob.bytes.length);
    const written: number[] = [];
    const started = performance.now();
    await new PieceDownload({
      node: child,
      request: { registry: '127.0.0.1:9', repository: 'test/blob', digest, signal: new AbortController().signal },
      assignment,
      writer,
      scheduler: client,
      origin,
      downloadBucket: new TokenBucket(downloadRate),
      piecesInFlight: 8,
      pieceTimeoutMs: PIECE_TIMEOUT_MS,
      onPiece: (index) => written.push(index),
      logger,
    }).run();
    const elapsedMs = performance.now() - started;
    const record = await writer.commit({ source: 'test' });
    const summary = lines.find((line) => line['msg'] === 'swarm download finished');
    return { bytes: await fileBytes(store.blobPath(record.digest)), written, summary, elapsedMs, lines };
  }

  it('catches a parent serving corrupt pieces on its first bad piece and finishes with correct bytes', async () => {
    const blob = makeBlob(12 * MiB + 4321);
    const good = await net.node();
    const corrupt = await net.node();
    stores.push(await servePieces(good, [blob]), await servePieces(corrupt, [blob], { corrupt: true }));
    const scheduler = await fakeScheduler(await net.node(), blob, [good, corrupt]);

    const result = await download(blob, scheduler);

    expect(result.bytes.equals(blob.bytes)).toBe(true);
    expect(new Set(result.written).size).toBe(blob.meta.pieceCount);
    const corruptPeer = corrupt.peerId.toString();
    await expect.poll(() => scheduler.failures().filter((f) => f.reason === 'corrupt')).toHaveLength(1);
    expect(scheduler.failures().filter((f) => f.reason === 'corrupt')[0]!.peer).toBe(corruptPeer);
    expect(result.summary).toMatchObject({ bytes: blob.bytes.length, bytes_from_peers: blob.bytes.length, bytes_from_origin: 0 });
    expect(Object.keys(result.summary!['parents'] as object)).toEqual([good.peerId.toString()]);
  });

  it('re-requests the pieces of a parent that accepts requests but sends nothing', async () => {
    const blob = makeBlob(6 * MiB);
    const good = await net.node();
    stores.push(await servePieces(good, [blob]));
    const stalled = await stalledParent(await net.node(), blob);
    const scheduler = await fakeScheduler(await net.node(), blob, [stalled.node, good]);

    const result = await download(blob, scheduler);

    expect(result.bytes.equals(blob.bytes)).toBe(true);
    expect(stalled.gets()).toBeGreaterThan(0);
    const stalledPeer = stalled.node.peerId.toString();
    await expect.poll(() => scheduler.failures().some((f) => f.peer === stalledPeer && f.reason === 'slow')).toBe(true);
    expect(result.summary).toMatchObject({ bytes_from_peers: blob.bytes.length, bytes_from_origin: 0 });
    // One piece deadline lost, not one per piece.
    expect(result.elapsedMs).toBeLessThan(PIECE_TIMEOUT_MS + 1_500);
  });

  it('draws piece downloads from the --download-rate bucket', async () => {
    const blob = makeBlob(3 * MiB);
    const parent = await net.node();
    stores.push(await servePieces(parent, [blob]));
    const scheduler = await fakeScheduler(await net.node(), blob, [parent]);

    const result = await download(blob, scheduler, 3 * MiB);

    expect(result.bytes.equals(blob.bytes)).toBe(true);
    // 3 MiB at 3 MiB/s, less the bucket's 0.3 MiB burst.
    expect(result.elapsedMs).toBeGreaterThan(850);
  });
});

/** A parent that announces every piece and accepts `get`, then never answers until the child gives up. */
async function stalledParent(node: P2PNode, blob: TestBlob): Promise<{ node: P2PNode; gets(): number }> {
  let gets = 0;
  await handlePiece(node, {
    async get(_request, context) {
      gets++;
      await new Promise((resolve) => context.signal.addEventListener('abort', resolve, { once: true }));
      return { type: 'missing' };
    },
    async *watch() {
      yield { pieces: blob.meta.pieceDigests.map((_, i) => i), complete: true };
    },
  });
  return { node, gets: () => gets };
}
