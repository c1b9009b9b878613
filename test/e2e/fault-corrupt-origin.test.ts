import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  pushBlob,
  startFlotillaDaemon,
  startRegistry,
  waitFor,
  type FlotillaDaemon,
  type Registry,
} from '@flotilla/test';
import { rawRequest, sha256, type RawResponse } from './support/http.ts';
import { blobGets } from './support/logs.ts';
import { exists, registryBlobDataPath, storeBlobPath } from './support/paths.ts';
import { defaultOriginArgs } from './support/origin.ts';

// Requirement 6b: the origin serves other bytes than the digest names (same size, so only the hash can tell).
// The client's body must be cut short, never delivered whole, and the garbage must not be cached.

const SIZE = 4 * 2 ** 20;

let registry: Registry;
let daemon: FlotillaDaemon;
let blob: Buffer;
let garbage: Buffer;
let digest: string;

beforeAll(async () => {
  registry = await startRegistry();
  blob = randomBytes(SIZE);
  digest = await pushBlob(registry, 'app/x', blob);
  garbage = randomBytes(SIZE);
  await writeFile(registryBlobDataPath(registry, digest), garbage);
  daemon = await startFlotillaDaemon({
    args: defaultOriginArgs(registry.host),
  });
});

afterAll(async () => {
  await Promise.all([daemon?.stop(), registry?.stop()]);
});

const path = () => `/v2/app/x/blobs/${digest}`;

function expectCutShort(res: RawResponse): void {
  expect(res.status).toBe(200);
  expect(res.complete).toBe(false);
  expect(res.body.length).toBeLessThan(SIZE);
  expect(res.body.equals(garbage)).toBe(false);
  expect(sha256(res.body)).not.toBe(sha256(garbage));
}

test('a corrupt origin body is cut short and never cached', async () => {
  expectCutShort(await rawRequest(daemon.url, path()));
  expect(await exists(storeBlobPath(daemon.dataDir, digest))).toBe(false);

  // Asked again: fetched from the origin again (and cut again), not served from a cache of the garbage.
  expectCutShort(await rawRequest(daemon.url, path()));
  expect(await exists(storeBlobPath(daemon.dataDir, digest))).toBe(false);
  const sources = await waitFor(() => {
    const gets = blobGets(daemon, digest);
    return gets.length === 2 ? gets.map((l) => l['source']) : undefined;
  });
  expect(sources).toEqual(['origin', 'origin']);
});

test('once the origin serves the right bytes, the client gets them (no negative caching)', async () => {
  await writeFile(registryBlobDataPath(registry, digest), blob);
  const res = await rawRequest(daemon.url, path());
  expect(res.status).toBe(200);
  expect(res.complete).toBe(true);
  expect(sha256(res.body)).toBe(digest);
  await waitFor(() => exists(storeBlobPath(daemon.dataDir, digest)));
});
