import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startFlotillaDaemon, type FlotillaDaemon, type Registry } from '@flotilla/test';
import { rawRequest, sha256 } from './support/http.ts';
import { exists, listDir, storeBlobPath, storeTmpDir } from './support/paths.ts';
import type { TcpProxy } from './support/tcp-proxy.ts';
import { defaultOriginArgs, startThrottledOrigin } from './support/origin.ts';
import { tempDir } from './support/temp.ts';

// Requirement 6c: the daemon is SIGKILLed mid-download and restarted on the same data dir. The partial download
// must never be served (as a blob or a prefix of one), and recovery leaves the store's tmp dir empty.

const SIZE = 16 * 2 ** 20;
// Capped so the download is surely still running when the daemon is killed (≥ 0.5 s for the whole blob).
const RATE = 32 * 2 ** 20;

let dir: Awaited<ReturnType<typeof tempDir>>;
let registry: Registry;
let proxy: TcpProxy;
let daemon: FlotillaDaemon | undefined;
let blob: Buffer;
let digest: string;

function startDaemon(dataDir: string): Promise<FlotillaDaemon> {
  return startFlotillaDaemon({ dataDir, args: defaultOriginArgs(proxy.host) });
}

beforeAll(async () => {
  dir = await tempDir('daemon-crash');
  ({ registry, proxy, blob, digest } = await startThrottledOrigin({ size: SIZE, bytesPerSecond: RATE, repository: 'app/x' }));
});

afterAll(async () => {
  await daemon?.stop();
  await proxy?.close();
  await registry?.stop();
  await dir?.cleanup();
});

test('a restarted daemon serves no partial download and has an empty tmp dir', async () => {
  const dataDir = join(dir.path, 'data');
  const crashing = await startDaemon(dataDir);
  let killed: Promise<void> | undefined;
  const cut = await rawRequest(crashing.url, `/v2/app/x/blobs/${digest}`, {
    onData: () => (killed ??= crashing.kill()),
  });
  await killed;
  expect(cut.complete).toBe(false);
  expect(cut.body.length).toBeLessThan(SIZE);
  // The crash really left a partial download behind, so the restart has something to recover.
  expect(await listDir(storeTmpDir(dataDir))).not.toEqual([]);
  expect(await exists(storeBlobPath(dataDir, digest))).toBe(false);

  daemon = await startDaemon(dataDir);
  expect(await listDir(storeTmpDir(dataDir))).toEqual([]);
  expect(await exists(storeBlobPath(dataDir, digest))).toBe(false);

  const head = await rawRequest(daemon.url, `/v2/app/x/blobs/${digest}`, { method: 'HEAD' });
  expect(head.status).toBe(200);
  expect(head.headers['content-length']).toBe(String(SIZE));

  const again = await rawRequest(daemon.url, `/v2/app/x/blobs/${digest}`);
  expect(again.status).toBe(200);
  expect(again.complete).toBe(true);
  expect(again.body.length).toBe(SIZE);
  expect(sha256(again.body)).toBe(digest);

  const tail = await rawRequest(daemon.url, `/v2/app/x/blobs/${digest}`, { headers: { range: `bytes=${SIZE - 1000}-` } });
  expect(tail.status).toBe(206);
  expect(tail.body.equals(blob.subarray(SIZE - 1000))).toBe(true);
});
