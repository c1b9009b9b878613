import { silentLogger } from '@flotilla/log';
import { parseDigest } from '@flotilla/oci';
import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { TokenBucket } from '@flotilla/ratelimit';
import type { ContentStore } from '@flotilla/store';
import { pieceGet, pieceRange, pieceWatch, type HaveMessage } from '@flotilla/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActiveDownloads } from '../src/swarm/active-downloads.ts';
import { PieceServer } from '../src/swarm/piece-server.ts';
import { makeBlob, storeWith, type TestBlob } from './swarm-support.ts';

const MiB = 1024 * 1024;

describe('piece server', () => {
  let net: TestNetwork;
  let client: P2PNode;
  const stores: ContentStore[] = [];

  beforeAll(async () => {
    net = await TestNetwork.create();
    client = await net.node();
  });
  afterAll(async () => {
    await net.stop();
    await Promise.all(stores.map((s) => s.close()));
  });

  async function server(blobs: TestBlob[], options: { uploadSlots?: number; uploadRate?: number; uploadQueueMs?: number } = {}) {
    const node = await net.node();
    const store = await storeWith(blobs);
    stores.push(store);
    const active = new ActiveDownloads();
    const pieces = new PieceServer({
      node,
      store,
      active,
      uploadSlots: options.uploadSlots ?? 8,
      uploadQueueMs: options.uploadQueueMs ?? 1_000,
      uploadBucket: new TokenBucket(options.uploadRate ?? 0),
      logger: silentLogger(),
    });
    await pieces.start();
    await client.peerStore.merge(node.peerId, { multiaddrs: node.getMultiaddrs() });
    return { node, store, active, pieces };
  }

  async function get(from: P2PNode, blob: TestBlob, index: number, onFirstChunk?: () => void) {
    const chunks: Uint8Array[] = [];
    const onChunk = (c: Uint8Array) => {
      if (chunks.push(c) === 1) onFirstChunk?.();
    };
    const reply = await pieceGet(client, from.peerId, { digest: blob.digest, index }, { onChunk });
    return { type: reply.type, bytes: Buffer.concat(chunks), ...(reply.type === 'busy' ? { retryAfterMs: reply.retryAfterMs } : {}) };
  }

  function pieceBytes(blob: TestBlob, index: number): Buffer {
    const { start, end } = pieceRange(index, blob.meta.size, blob.meta.pieceLength);
    return blob.bytes.subarray(start, end);
  }

  it('serves pieces of a blob still downloading, and watchers see them land', async () => {
    const blob = makeBlob(4 * MiB - 1000);
    const { node, store, active } = await server([]);
    const writer = await store.createWriter(parseDigest(blob.digest), blob.meta.size);
    const entry = active.start(blob.meta, writer);
    const land = async (index: number) => {
      await writer.write(pieceRange(index, blob.meta.size, blob.meta.pieceLength).start, pieceBytes(blob, index));
      active.pieceWritten(entry, index);
    };
    await land(2);
    await land(0);

    expect(await get(node, blob, 1)).toEqual({ type: 'missing', bytes: Buffer.alloc(0) });
    const got = await get(node, blob, 2);
    expect(got.type).toBe('piece');
    expect(got.bytes.equals(pieceBytes(blob, 2))).toBe(true);

    const frames: HaveMessage[] = [];
    const watching = (async () => {
      for await (const have of pieceWatch(client, node.peerId, { digest: blob.digest, pieceCount: blob.meta.pieceCount })) {
        frames.push(have);
        if (frames.length === 1) await land(1);
        if (frames.length === 2) await land(3);
      }
    })();
    await watching;
    expect(frames.map((f) => [f.pieces, f.complete])).toEqual([
      [[0, 2], false],
      [[1], false],
      [[3], true],
    ]);
    await writer.abort();
  });

  it('serves committed blobs from the store and announces them complete', async () => {
    const blob = makeBlob(3 * MiB + 7);
    const { node } = await server([blob]);
    for (let i = 0; i < blob.meta.pieceCount; i++) expect((await get(node, blob, i)).bytes.equals(pieceBytes(blob, i))).toBe(true);
    expect((await get(node, blob, blob.meta.pieceCount)).type).toBe('missing');
    const frames: HaveMessage[] = [];
    for await (const have of pieceWatch(client, node.peerId, { digest: blob.digest, pieceCount: blob.meta.pieceCount })) frames.push(have);
    expect(frames).toEqual([{ type: 'have', pieces: [0, 1, 2, 3], complete: true }]);
  });

  it('answers busy once every upload slot is taken, and paces uploads by --upload-rate', async () => {
    const blob = makeBlob(2 * MiB);
    const { node } = await server([blob], { uploadSlots: 1, uploadRate: 2 * MiB });
    const started = performance.now();
    let uploading = false;
    const first = get(node, blob, 0, () => (uploading = true));
    // Only once the first upload holds the slot is a second request certain to find none free.
    await expect.poll(() => uploading, { timeout: 5_000 }).toBe(true);
    expect((await get(node, blob, 1)).type).toBe('busy');
    expect((await first).bytes.equals(pieceBytes(blob, 0))).toBe(true);
    // 1 MiB at 2 MiB/s with a 0.2 MiB burst.
    expect(performance.now() - started).toBeGreaterThan(350);
    await expect.poll(async () => (await get(node, blob, 1)).type).toBe('piece'); // the slot is released
  });

  it('answers busy, with when to come back, a request its upload link could not start before the queue time', async () => {
    const blob = makeBlob(8 * MiB);
    // 4 MiB/s and 600 ms of queue: the first three 1 MiB pieces are admitted, the fourth would wait ~750 ms.
    const { node, pieces } = await server([blob], { uploadSlots: 100, uploadRate: 4 * MiB, uploadQueueMs: 600 });
    const admitted = [0, 1, 2].map((index) => get(node, blob, index));
    await expect.poll(() => pieces.uploadsInProgress, { timeout: 2_000, interval: 5 }).toBe(3);
    const refused = await get(node, blob, 3);
    expect(refused.type).toBe('busy');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    for (const [index, reply] of (await Promise.all(admitted)).entries()) expect(reply.bytes.equals(pieceBytes(blob, index))).toBe(true);
    expect((await get(node, blob, 3)).bytes.equals(pieceBytes(blob, 3))).toBe(true); // the link is free again
  });
});
