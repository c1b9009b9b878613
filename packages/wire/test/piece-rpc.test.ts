import { createHash, randomBytes } from 'node:crypto';
import type { P2PNode } from '@flotilla/p2p';
import { StreamClosedError } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { waitFor } from '@flotilla/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.ts';
import type { HaveMessage } from '../src/piece-messages.ts';
import { handlePiece, pieceGet, pieceWatch } from '../src/piece-rpc.ts';
import { MiB, pieceCountFor, pieceRange } from '../src/pieces.ts';
import { DIGEST } from './arbitraries.ts';

const BLOB = randomBytes(3 * MiB + 12_345);
const PIECE_LENGTH = MiB;
const PIECE_COUNT = pieceCountFor(BLOB.byteLength, PIECE_LENGTH);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('piece protocol over a real libp2p pair', () => {
  let net: TestNetwork;
  let parent: P2PNode;
  let child: P2PNode;
  let busy = false;
  /** Each get's done() outcome, to check the upload slot is always released. */
  const finished: (string | undefined)[] = [];
  const watchesStopped: string[] = [];
  let shortBody = false;

  beforeAll(async () => {
    net = await TestNetwork.create();
    parent = await net.node();
    child = await net.node();
    await handlePiece(parent, {
      async get({ digest, index }) {
        if (busy) return { type: 'busy' };
        if (digest !== DIGEST || index >= PIECE_COUNT) return { type: 'missing' };
        const { start, end } = pieceRange(index, BLOB.byteLength, PIECE_LENGTH);
        const body = BLOB.subarray(start, shortBody ? end - 1 : end);
        return {
          type: 'piece',
          length: end - start,
          // Streamed in 64 KiB slices, as a file read stream would.
          body: (async function* () {
            for (let at = 0; at < body.byteLength; at += 65_536) yield body.subarray(at, at + 65_536);
          })(),
          done: (err) => finished.push(err === undefined ? 'ok' : String(err)),
        };
      },
      async *watch({ digest }, { signal }) {
        yield { pieces: [0, 2], complete: false };
        yield { pieces: [1], complete: false };
        if (digest === DIGEST) {
          yield { pieces: [3], complete: true };
          return;
        }
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        watchesStopped.push(digest);
      },
    });
  });
  afterAll(async () => {
    await net.stop();
  });

  async function get(index: number, expectedLength?: number): Promise<{ result: unknown; bytes: Buffer }> {
    const chunks: Uint8Array[] = [];
    const result = await pieceGet(
      child,
      parent.getMultiaddrs(),
      { digest: DIGEST, index },
      { onChunk: (chunk) => void chunks.push(chunk), expectedLength, signal: AbortSignal.timeout(10_000) },
    );
    return { result, bytes: Buffer.concat(chunks) };
  }

  it('fetches every piece with the exact bytes', async () => {
    const parts: Buffer[] = [];
    for (let index = 0; index < PIECE_COUNT; index++) {
      const { start, end } = pieceRange(index, BLOB.byteLength, PIECE_LENGTH);
      const { result, bytes } = await get(index, end - start);
      expect(result).toEqual({ type: 'piece', index, length: end - start });
      parts.push(bytes);
    }
    expect(sha256(Buffer.concat(parts))).toBe(sha256(BLOB));
    expect(finished.slice(-PIECE_COUNT)).toEqual(Array(PIECE_COUNT).fill('ok'));
  });

  it('answers missing and busy without a body', async () => {
    expect(await get(PIECE_COUNT)).toEqual({ result: { type: 'missing' }, bytes: Buffer.alloc(0) });
    busy = true;
    try {
      expect(await get(0)).toEqual({ result: { type: 'busy' }, bytes: Buffer.alloc(0) });
    } finally {
      busy = false;
    }
  });

  it('treats a reply of the wrong length as a protocol violation', async () => {
    await expect(get(0, PIECE_LENGTH - 1)).rejects.toBeInstanceOf(WireError);
  });

  it('resets the stream when the server body is shorter than announced, and releases the slot', async () => {
    shortBody = true;
    try {
      await expect(get(1)).rejects.toBeInstanceOf(StreamClosedError);
    } finally {
      shortBody = false;
    }
    expect(finished.at(-1)).toMatch(/ended after 1048575 of 1048576 bytes/);
  });

  it('streams piece availability until the parent completes', async () => {
    const updates: HaveMessage[] = [];
    for await (const have of pieceWatch(child, parent.getMultiaddrs(), { digest: DIGEST, pieceCount: PIECE_COUNT })) {
      updates.push(have);
    }
    expect(updates).toEqual([
      { type: 'have', pieces: [0, 2], complete: false },
      { type: 'have', pieces: [1], complete: false },
      { type: 'have', pieces: [3], complete: true },
    ]);
  });

  it('stops the parent side when the child stops watching', async () => {
    const other = `sha256:${'cd'.repeat(32)}`;
    const updates: HaveMessage[] = [];
    for await (const have of pieceWatch(child, parent.getMultiaddrs(), { digest: other, pieceCount: 4 })) {
      updates.push(have);
      if (updates.length === 2) break;
    }
    expect(updates.map((u) => u.pieces)).toEqual([[0, 2], [1]]);
    await waitFor(() => watchesStopped.includes(other), 5_000);
  });

  it('rejects availability outside the blob', async () => {
    const watch = pieceWatch(child, parent.getMultiaddrs(), { digest: DIGEST, pieceCount: 2 });
    await expect(watch.next()).rejects.toThrow(/have.pieces\[1\]/);
  });
});
