import { createHash, randomBytes } from 'node:crypto';
import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PIECE_PROTOCOL, PIECE_SESSION_PROTOCOL } from '../src/piece-messages.ts';
import type { PieceGetReply } from '../src/piece-reply.ts';
import { handlePiece, type PieceHandlers } from '../src/piece-rpc.ts';
import { PieceSessions } from '../src/piece-session-client.ts';
import { MiB, pieceCountFor, pieceRange } from '../src/pieces.ts';
import { DIGEST } from './arbitraries.ts';

const BLOB = randomBytes(4 * MiB + 4_321);
const PIECE_LENGTH = MiB;
const PIECE_COUNT = pieceCountFor(BLOB.byteLength, PIECE_LENGTH);
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('piece sessions: gets on reused streams', () => {
  let net: TestNetwork;
  let parent: P2PNode;
  /** Replies the parent gives before serving pieces again (e.g. `busy`). */
  const queued: PieceGetReply[] = [];
  /** Upload outcomes from done(): every admitted body must release its slot. */
  const finished: string[] = [];
  // A class instance, as the scheduler's seed passes: handlePiece must call its methods bound.
  const handlers: PieceHandlers = new (class implements PieceHandlers {
    readonly #queued = queued;
    async get({ index }: { index: number }): Promise<PieceGetReply> {
      const next = this.#queued.shift();
      if (next) return next;
      if (index >= PIECE_COUNT) return { type: 'missing' };
      const { start, end } = pieceRange(index, BLOB.byteLength, PIECE_LENGTH);
      const body = BLOB.subarray(start, end);
      return {
        type: 'piece',
        length: body.byteLength,
        body: (async function* () {
          for (let at = 0; at < body.byteLength; at += 65_536) yield body.subarray(at, at + 65_536);
        })(),
        done: (err) => finished.push(err === undefined ? 'ok' : 'failed'),
      };
    }
    // eslint-disable-next-line require-yield
    async *watch(): AsyncGenerator<never> {
      return;
    }
  })();

  beforeAll(async () => {
    net = await TestNetwork.create();
    parent = await net.node();
    await handlePiece(parent, handlers);
  });
  afterAll(async () => {
    await net.stop();
  });

  async function fetch(sessions: PieceSessions, index: number, signal = AbortSignal.timeout(10_000)) {
    const chunks: Uint8Array[] = [];
    const { start, end } = pieceRange(index, BLOB.byteLength, PIECE_LENGTH);
    const result = await sessions.get(parent.peerId, { digest: DIGEST, index }, { onChunk: (c) => void chunks.push(c), expectedLength: end - start, signal });
    return { result, bytes: Buffer.concat(chunks), expected: BLOB.subarray(start, end) };
  }

  /** A new child connected to the parent (sessions dial by peer id, so the address must be known). */
  async function connectedChild(): Promise<P2PNode> {
    const child = await net.node();
    await child.dial(parent.getMultiaddrs());
    return child;
  }

  function sessionStreams(child: P2PNode): number {
    return child.getConnections(parent.peerId).flatMap((c) => c.streams).filter((s) => s.protocol === PIECE_SESSION_PROTOCOL).length;
  }

  it('fetches every piece, one after another, on one stream', async () => {
    const child = await connectedChild();
    const sessions = new PieceSessions(child);
    for (let index = 0; index < PIECE_COUNT; index++) {
      const { result, bytes, expected } = await fetch(sessions, index);
      expect(result).toEqual({ type: 'piece', index, length: expected.byteLength });
      expect(sha256(bytes)).toBe(sha256(expected));
    }
    expect(sessionStreams(child)).toBe(1);
    expect(sessions.idleCount(parent.peerId)).toBe(1);
  });

  it('keeps the session after busy and missing replies', async () => {
    const child = await connectedChild();
    const sessions = new PieceSessions(child);
    queued.push({ type: 'busy', retryAfterMs: 250 }, { type: 'missing' });
    expect((await fetch(sessions, 0)).result).toEqual({ type: 'busy', retryAfterMs: 250 });
    expect((await fetch(sessions, 1)).result).toEqual({ type: 'missing' });
    const { result, bytes, expected } = await fetch(sessions, 2);
    expect(result).toEqual({ type: 'piece', index: 2, length: expected.byteLength });
    expect(sha256(bytes)).toBe(sha256(expected));
    expect(sessionStreams(child)).toBe(1);
  });

  it('runs concurrent gets on separate streams and pools them for reuse', async () => {
    const child = await connectedChild();
    const sessions = new PieceSessions(child);
    const results = await Promise.all([0, 1, 2, 3].map((index) => fetch(sessions, index)));
    for (const { bytes, expected } of results) expect(sha256(bytes)).toBe(sha256(expected));
    expect(sessions.idleCount(parent.peerId)).toBe(4);
    await Promise.all([0, 1, 2, 3].map((index) => fetch(sessions, index)));
    expect(sessionStreams(child)).toBe(4);
  });

  it('drops a session whose request was aborted mid-body; the next get opens a fresh one', async () => {
    const child = await connectedChild();
    const sessions = new PieceSessions(child);
    const before = finished.length;
    const abort = new AbortController();
    let received = 0;
    const aborted = sessions.get(parent.peerId, { digest: DIGEST, index: 0 }, {
      signal: abort.signal,
      onChunk: (chunk) => {
        received += chunk.byteLength;
        if (received > 100_000) abort.abort(new Error('child gave up'));
      },
    });
    await expect(aborted).rejects.toThrow('child gave up');
    expect(sessions.idleCount(parent.peerId)).toBe(0);
    const { bytes, expected } = await fetch(sessions, 1);
    expect(sha256(bytes)).toBe(sha256(expected));
    await expect.poll(() => finished.slice(before).sort()).toEqual(['failed', 'ok']);
  });

  it('asks again on a fresh stream when the parent closed the idle session', async () => {
    const child = await connectedChild();
    const sessions = new PieceSessions(child);
    await fetch(sessions, 0);
    // What the parent does after SESSION_IDLE_MS: close its side of every idle session.
    const serverSide = parent.getConnections(child.peerId).flatMap((c) => c.streams).filter((s) => s.protocol === PIECE_SESSION_PROTOCOL);
    expect(serverSide).toHaveLength(1);
    await serverSide[0]!.close();
    const { result, bytes, expected } = await fetch(sessions, 3);
    expect(result).toEqual({ type: 'piece', index: 3, length: expected.byteLength });
    expect(sha256(bytes)).toBe(sha256(expected));
  });

  it('falls back to one stream per piece for a parent without sessions', async () => {
    const legacy = await net.node();
    await handlePiece(legacy, handlers);
    await legacy.unhandle(PIECE_SESSION_PROTOCOL);
    const child = await net.node();
    await child.dial(legacy.getMultiaddrs());
    const sessions = new PieceSessions(child);
    for (const index of [0, 1]) {
      const chunks: Uint8Array[] = [];
      const result = await sessions.get(legacy.peerId, { digest: DIGEST, index }, { onChunk: (c) => void chunks.push(c) });
      const { start, end } = pieceRange(index, BLOB.byteLength, PIECE_LENGTH);
      expect(result).toEqual({ type: 'piece', index, length: end - start });
      expect(sha256(Buffer.concat(chunks))).toBe(sha256(BLOB.subarray(start, end)));
    }
    expect(child.getConnections(legacy.peerId).flatMap((c) => c.streams).filter((s) => s.protocol === PIECE_PROTOCOL)).toHaveLength(0);
    expect(sessions.idleCount(legacy.peerId)).toBe(0);
  });
});
