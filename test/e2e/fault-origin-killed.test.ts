import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startFlotillaDaemon, startRegistry, waitFor, type FlotillaDaemon, type Registry } from '@flotilla/test';
import { rawRequest, sha256 } from './support/http.ts';
import { blobGets } from './support/logs.ts';
import { exists, storeBlobPath } from './support/paths.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';
import { defaultOriginArgs, startThrottledOrigin } from './support/origin.ts';
import { tempDir } from './support/temp.ts';

// Requirement 6a: the origin dies in the middle of a large blob. The client must see the body cut short (never a
// complete body with wrong bytes), and nothing may be cached: once the origin is back, the blob is fetched again.

const SIZE = 64 * 2 ** 20;
// The origin's answers go through a forwarder capped at this rate, so the download is surely still running when
// the registry is killed; the forwarder also keeps the origin's address stable across the registry's restart.
const RATE = 128 * 2 ** 20;

let dir: Awaited<ReturnType<typeof tempDir>>;
let registry: Registry;
let proxy: TcpProxy;
let daemon: FlotillaDaemon;
let blob: Buffer;
let digest: string;

beforeAll(async () => {
  dir = await tempDir('origin-killed');
  ({ registry, proxy, blob, digest } = await startThrottledOrigin({
    size: SIZE,
    bytesPerSecond: RATE,
    repository: 'app/big',
    root: join(dir.path, 'registry'),
  }));
  daemon = await startFlotillaDaemon({
    args: [
      ...defaultOriginArgs(proxy.host),
      '--origin-first-byte-timeout', '2s',
      '--origin-idle-timeout', '2s',
    ],
  });
});

afterAll(async () => {
  await daemon?.stop();
  await proxy?.close();
  await registry?.stop();
  await dir?.cleanup();
});

test('the client gets a cut body, nothing is cached, and the blob is fetched again later', async () => {
  let killed: Promise<void> | undefined;
  const cut = await rawRequest(daemon.url, `/v2/app/big/blobs/${digest}`, {
    onData: () => (killed ??= registry.kill()),
  });
  await killed;
  expect(cut.status).toBe(200);
  expect(cut.headers['content-length']).toBe(String(SIZE));
  expect(cut.complete).toBe(false);
  expect(cut.body.length).toBeLessThan(SIZE);
  expect(cut.body.equals(blob.subarray(0, cut.body.length))).toBe(true);
  expect(await exists(storeBlobPath(daemon.dataDir, digest))).toBe(false);

  registry = await startRegistry({ root: join(dir.path, 'registry') });
  proxy.setTarget(registry.host);
  const again = await rawRequest(daemon.url, `/v2/app/big/blobs/${digest}`);
  expect(again.status).toBe(200);
  expect(again.complete).toBe(true);
  expect(again.body.length).toBe(SIZE);
  expect(sha256(again.body)).toBe(digest);
  const sources = await waitFor(() => {
    const gets = blobGets(daemon, digest);
    return gets.length === 2 ? gets.map((l) => l['source']) : undefined;
  });
  expect(sources).toEqual(['origin', 'origin']);
  await waitFor(() => exists(storeBlobPath(daemon.dataDir, digest)));
});
