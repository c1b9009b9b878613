import type { P2PNode } from '@flotilla/p2p';
import { encodeFrame, FrameTooLargeError, StreamReader, writeAll } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { waitFor } from '@flotilla/test';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.ts';
import { MAX_PIECE_CONTROL_FRAME, PIECE_PROTOCOL, PIECE_SESSION_PROTOCOL } from '../src/piece-messages.ts';
import { handlePiece, pieceGet } from '../src/piece-rpc.ts';
import { isProtocolViolation } from '../src/rpc.ts';
import { MAX_SCHED_FRAME, SCHED_PROTOCOL } from '../src/sched-messages.ts';
import { handleSched } from '../src/sched-rpc.ts';
import { DIGEST } from './arbitraries.ts';

const MiB = 1024 * 1024;
const PIECE = new Uint8Array(1000).fill(42);

describe('a server facing a hostile peer', () => {
  let net: TestNetwork;
  let server: P2PNode;
  let attacker: P2PNode;
  const errors: unknown[] = [];

  beforeAll(async () => {
    net = await TestNetwork.create();
    server = await net.node();
    attacker = await net.node();
    const onError = (err: unknown): void => void errors.push(err);
    await handlePiece(
      server,
      {
        get: async () => ({ type: 'piece', length: PIECE.byteLength, body: PIECE }),
        async *watch() {},
      },
      { onError, requestTimeoutMs: 1_000 },
    );
    await handleSched(server, async () => ({ type: 'ok' }), { onError });
  });
  afterAll(async () => {
    await net.stop();
  });

  /** Sends raw bytes on a new stream and returns how the server ended it. */
  async function sendRaw(protocol: string, chunks: Uint8Array[], closeWrite = true): Promise<'reset' | 'eof' | 'data'> {
    const stream = await attacker.dialProtocol(server.getMultiaddrs(), protocol);
    const reader = new StreamReader(stream);
    await writeAll(stream, chunks).catch(() => undefined); // the server may reset mid-write
    if (closeWrite) await stream.close().catch(() => undefined);
    try {
      return (await reader.readFrame(MAX_SCHED_FRAME)) === undefined ? 'eof' : 'data';
    } catch {
      return 'reset';
    }
  }

  async function stillServes(): Promise<void> {
    const chunks: Uint8Array[] = [];
    const result = await pieceGet(attacker, server.getMultiaddrs(), { digest: DIGEST, index: 0 }, { onChunk: (c) => void chunks.push(c) });
    expect(result).toEqual({ type: 'piece', index: 0, length: PIECE.byteLength });
    expect(Buffer.concat(chunks).equals(PIECE)).toBe(true);
  }

  it('resets streams carrying garbage, counts each against the peer, and keeps serving', async () => {
    const garbage = fc.oneof(
      fc.uint8Array({ maxLength: 2048 }).map((bytes) => [bytes]),
      fc.uint8Array({ maxLength: 512 }).map((payload) => encodeFrame(payload)), // well framed, not a message
      fc.jsonValue().map((value) => encodeFrame(new TextEncoder().encode(JSON.stringify(value)))),
      fc.tuple(fc.integer({ min: MAX_PIECE_CONTROL_FRAME + 1, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 1024 })).map(
        ([length, rest]) => [Uint8Array.of(length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255), rest],
      ),
    );
    await fc.assert(
      fc.asyncProperty(garbage, fc.constantFrom(PIECE_PROTOCOL, PIECE_SESSION_PROTOCOL, SCHED_PROTOCOL), async (chunks, protocol) => {
        // A session closed before its first request is a clean end, not garbage.
        fc.pre(protocol !== PIECE_SESSION_PROTOCOL || chunks.some((chunk) => chunk.byteLength > 0));
        const before = errors.length;
        expect(await sendRaw(protocol, chunks)).toBe('reset');
        await waitFor(() => errors.length > before, 5_000);
        expect(errors.slice(before).every(isProtocolViolation)).toBe(true);
      }),
      { numRuns: 40 },
    );
    await stillServes();
  });

  it('refuses a 4 GiB length prefix without allocating it', async () => {
    const before = errors.length;
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
    try {
      // The announced 4 GiB, then 32 MiB of it actually sent: the server must reset after the 4-byte header.
      const flood = Array.from({ length: 128 }, () => new Uint8Array(256 * 1024));
      expect(await sendRaw(SCHED_PROTOCOL, [Uint8Array.of(0xff, 0xff, 0xff, 0xff), ...flood])).toBe('reset');
    } finally {
      clearInterval(sampler);
    }
    await waitFor(() => errors.length > before, 5_000);
    const err = errors[before];
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect((err as FrameTooLargeError).length).toBe(2 ** 32 - 1);
    expect(peak - baseline).toBeLessThan(256 * MiB);
    await stillServes();
  });

  it('refuses a sched frame one byte over 4 MiB before reading it', async () => {
    const before = errors.length;
    const length = MAX_SCHED_FRAME + 1;
    const header = Uint8Array.of(length >>> 24, (length >>> 16) & 255, (length >>> 8) & 255, length & 255);
    expect(await sendRaw(SCHED_PROTOCOL, [header])).toBe('reset');
    await waitFor(() => errors.length > before, 5_000);
    expect(errors[before]).toBeInstanceOf(FrameTooLargeError);
  });

  it('resets a stream that never sends its request', async () => {
    const before = errors.length;
    expect(await sendRaw(PIECE_PROTOCOL, [], false)).toBe('reset');
    await waitFor(() => errors.length > before, 5_000);
    expect(errors[before]).toBeInstanceOf(WireError);
    expect(String(errors[before])).toMatch(/no request within/);
  });
});
