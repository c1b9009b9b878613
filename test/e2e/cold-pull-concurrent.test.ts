import { get } from 'node:http';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { registryRequests, startFlotillaDaemon, waitFor, type FlotillaDaemon, type Registry } from '@flotilla/test';
import { sha256 } from './support/http.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';
import { defaultOriginArgs, startThrottledOrigin } from './support/origin.ts';

// Single-flight under load: clients that keep up, one that stalls, one that asks for a range and one that joins
// late all get exact bytes from one origin fetch. The origin body travels through reused memory (pooled receive
// buffers), so this is also the check that no buffer is reused while a client's socket still needs it.

const SIZE = 48 * 2 ** 20;
// Throttled so that the download is still running while every client joins.
const RATE = 96 * 2 ** 20;
const RANGE_START = 10_000_000;

let registry: Registry;
let proxy: TcpProxy;
let daemon: FlotillaDaemon;
let blob: Buffer;
let digest: string;

beforeAll(async () => {
  ({ registry, proxy, blob, digest } = await startThrottledOrigin({ size: SIZE, bytesPerSecond: RATE, repository: 'app/big' }));
  daemon = await startFlotillaDaemon({ args: defaultOriginArgs(proxy.host) });
});

afterAll(async () => {
  await daemon?.stop();
  await proxy?.close();
  await registry?.stop();
});

interface Pull {
  status: number;
  body: Buffer;
}

/**
 * GETs the blob through the daemon. A stalling client stops reading for `stallMs` after every `stallEvery` bytes;
 * `onProgress` sees the byte count as it grows.
 */
function pull(options: { range?: string; stallEvery?: number; stallMs?: number; onProgress?: (bytes: number) => void } = {}): Promise<Pull> {
  return new Promise((resolve, reject) => {
    const url = `${daemon.url}/v2/app/big/blobs/${digest}`;
    const req = get(url, { headers: options.range ? { range: options.range } : {}, agent: false, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let nextStall = options.stallEvery ?? Infinity;
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        options.onProgress?.(received);
        if (received >= nextStall) {
          nextStall += options.stallEvery!;
          res.pause();
          setTimeout(() => res.resume(), options.stallMs);
        }
      });
      res.on('end', () => (res.complete ? resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }) : reject(new Error('cut short'))));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', reject);
  });
}

test('fast, stalling, ranged and late clients of one cold blob get exact bytes from a single origin fetch', async () => {
  let joinLate: () => void = () => {};
  const lateJoined = new Promise<void>((resolve) => (joinLate = resolve));
  const pulls = [
    pull({ onProgress: (bytes) => bytes >= SIZE / 3 && joinLate() }),
    pull(),
    pull({ stallEvery: 8 * 2 ** 20, stallMs: 150 }),
    pull({ range: `bytes=${RANGE_START}-` }),
    lateJoined.then(() => pull()),
  ];
  const [fast, second, stalling, ranged, late] = await Promise.all(pulls);

  for (const whole of [fast!, second!, stalling!, late!]) {
    expect(whole.status).toBe(200);
    expect(whole.body.length).toBe(SIZE);
    expect(sha256(whole.body)).toBe(digest);
  }
  expect(ranged!.status).toBe(206);
  expect(ranged!.body.equals(blob.subarray(RANGE_START))).toBe(true);
  const blobGets = () => registryRequests(registry).filter((r) => r.method === 'GET' && r.path.includes(`/blobs/${digest}`));
  await waitFor(() => blobGets().length >= 1, 5_000);
  expect(blobGets()).toHaveLength(1);
});
