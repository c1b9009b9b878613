import type { Stream } from '@libp2p/interface';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameTooLargeError, UnexpectedEndOfStreamError } from '../src/errors.ts';
import { encodeFrame, writeFrame } from '../src/frame.ts';
import type { P2PNode } from '../src/node.ts';
import { StreamReader } from '../src/reader.ts';
import { TestNetwork } from '../src/testing.ts';
import { writeAll } from '../src/write.ts';

const PROTOCOL = '/test/frames/1.0.0';

describe('length-prefixed frames over a real stream', () => {
  let net: TestNetwork;
  let client: P2PNode;
  let server: P2PNode;
  /** What the server side's reader did with the next inbound stream. */
  let onServerStream: (stream: Stream) => Promise<void>;

  beforeAll(async () => {
    net = await TestNetwork.create();
    server = await net.node();
    client = await net.node();
    await server.handle(PROTOCOL, (stream) => onServerStream(stream));
  });
  afterAll(async () => {
    await net.stop();
  });

  /** Runs `serve` on the server side of a new stream while the client writes `chunks` and half-closes. */
  async function exchange<T>(chunks: Uint8Array[], serve: (reader: StreamReader, stream: Stream) => Promise<T>): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    onServerStream = async (stream) => {
      try {
        resolve(await serve(new StreamReader(stream), stream));
      } catch (err) {
        reject(err);
      } finally {
        stream.abort(new Error('test done'));
      }
    };
    const stream = await client.dialProtocol(server.getMultiaddrs(), PROTOCOL);
    await writeAll(stream, chunks).catch(() => undefined); // the server may reset mid-write
    await stream.close().catch(() => undefined);
    return promise;
  }

  it('reads frames back in order and reports a clean end', async () => {
    const payloads = [new Uint8Array(0), new TextEncoder().encode('hello'), new Uint8Array(300_000).fill(7)];
    const frames = await exchange(payloads.flatMap(encodeFrame), async (reader) => {
      const got: Uint8Array[] = [];
      for (let frame = await reader.readFrame(1 << 20); frame; frame = await reader.readFrame(1 << 20)) got.push(frame);
      return got;
    });
    const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
    expect(frames.map(hex)).toEqual(payloads.map(hex));
  });

  it('rejects an oversized length without buffering the payload', async () => {
    const header = new Uint8Array([0xff, 0xff, 0xff, 0xff]);
    const body = new Uint8Array(2 * 1024 * 1024);
    const result = await exchange([header, body], async (reader) => {
      const err = await reader.readFrame(64 * 1024).catch((e: unknown) => e);
      return { err, buffered: reader.bufferedBytes };
    });
    expect(result.err).toBeInstanceOf(FrameTooLargeError);
    expect((result.err as FrameTooLargeError).length).toBe(0xffff_ffff);
    expect(result.buffered).toBeLessThan(4 * 1024 * 1024 + 256 * 1024);
  });

  it('throws UnexpectedEndOfStreamError on a truncated header or payload', async () => {
    const header = await exchange([new Uint8Array([0, 0])], (reader) => reader.readFrame(1024).catch((e: unknown) => e));
    expect(header).toBeInstanceOf(UnexpectedEndOfStreamError);
    const payload = await exchange([new Uint8Array([0, 0, 0, 10, 1, 2, 3])], (reader) =>
      reader.readFrame(1024).catch((e: unknown) => e),
    );
    expect(payload).toBeInstanceOf(UnexpectedEndOfStreamError);
  });

  it('streams a body in chunks after a frame, then replies on the same stream', async () => {
    const body = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251);
    const stream = await new Promise<Stream>((resolve, reject) => {
      onServerStream = async (s) => {
        const reader = new StreamReader(s);
        const header = await reader.readFrame(16);
        const parts: Uint8Array[] = [];
        await reader.readBody(body.byteLength, (chunk) => {
          parts.push(chunk);
        });
        await writeFrame(s, new TextEncoder().encode(`${header?.byteLength}:${Buffer.concat(parts).equals(body)}`));
        await s.close();
      };
      client.dialProtocol(server.getMultiaddrs(), PROTOCOL).then(resolve, reject);
    });
    await writeAll(stream, [...encodeFrame(new Uint8Array(3)), body]);
    await stream.close();
    const reply = await new StreamReader(stream).readFrame(64);
    expect(new TextDecoder().decode(reply)).toBe('3:true');
  });
});
