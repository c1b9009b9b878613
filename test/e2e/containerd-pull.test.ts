import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  buildImage,
  buildIndex,
  ctrContentGet,
  ctrFetch,
  pushImage,
  registryRequests,
  startContainerd,
  startFlotillaDaemon,
  startRegistry,
  waitFor,
  writeHostsDir,
  type Containerd,
  type CtrFetchOptions,
  type FlotillaDaemon,
  type PushedImage,
  type Registry,
  type TestImage,
} from '@flotilla/test';
import { sha256 } from './support/http.ts';
import { blobSources } from './support/logs.ts';
import { tempDir } from './support/temp.ts';

// Requirement 1: containerd pulls a tag through the mirror (hosts.toml server = origin, host = daemon); a second
// containerd with an empty store pulls again and every blob comes from the daemon's cache, none from the origin.

let dir: Awaited<ReturnType<typeof tempDir>>;
let registry: Registry;
let daemon: FlotillaDaemon;
let first: Containerd;
let second: Containerd;
let hostsDir: string;

beforeAll(async () => {
  dir = await tempDir('containerd-pull');
  registry = await startRegistry();
  daemon = await startFlotillaDaemon({ args: ['--insecure-registry', registry.host] });
  [first, second] = await Promise.all([startContainerd(), startContainerd()]);
  hostsDir = await writeHostsDir(join(dir.path, 'hosts'), { server: registry.host, mirror: daemon.host });
});

afterAll(async () => {
  await Promise.all([first?.stop(), second?.stop(), daemon?.stop(), registry?.stop()]);
  await dir?.cleanup();
});

/** Pulls with both containerds and checks the bytes, the daemon's sources and the origin's blob traffic. */
async function pullTwice(image: TestImage, pushed: PushedImage, fetchOptions: Omit<CtrFetchOptions, 'hostsDir'> = {}) {
  const digests = image.blobs.map((b) => b.digest);

  const cold = await ctrFetch(first, pushed.name, { hostsDir, ...fetchOptions });
  expect(cold.code, cold.stderr).toBe(0);
  await expectStored(first, image);
  // Every blob crossed the mirror once, fetched from the origin.
  const coldSources = await waitFor(() => {
    const sources = blobSources(daemon, digests);
    return Object.values(sources).every((s) => s.length === 1) ? sources : undefined;
  });
  expect(coldSources).toEqual(Object.fromEntries(digests.map((d) => [d, ['origin']])));

  const originRequestsBefore = registryRequests(registry).length;
  const warm = await ctrFetch(second, pushed.name, { hostsDir, ...fetchOptions });
  expect(warm.code, warm.stderr).toBe(0);
  await expectStored(second, image);
  const warmSources = await waitFor(() => {
    const sources = blobSources(daemon, digests);
    return Object.values(sources).every((s) => s.length === 2) ? sources : undefined;
  });
  expect(warmSources).toEqual(Object.fromEntries(digests.map((d) => [d, ['origin', 'cache']])));
  const originBlobGets = registryRequests(registry)
    .slice(originRequestsBefore)
    .filter((r) => r.method === 'GET' && r.path.includes('/blobs/'));
  expect(originBlobGets).toEqual([]);
}

/** Every blob of the image is in containerd's content store with exactly the bytes its digest names. */
async function expectStored(containerd: Containerd, image: TestImage): Promise<void> {
  for (const blob of image.blobs) {
    const bytes = await ctrContentGet(containerd, blob.digest);
    expect(bytes.length).toBe(blob.size);
    expect(sha256(bytes)).toBe(blob.digest);
  }
}

describe('containerd through the mirror', () => {
  test('OCI image manifest', async () => {
    const image = await buildImage({ layers: [300_000, 200_000, 100_000], dir: join(dir.path, 'oci') });
    const pushed = await pushImage(image, registry.host, 'app/oci:v1');
    expect(pushed.manifestDigest).toBe(image.manifestDigest);
    await pullTwice(image, pushed);
  });

  test('docker schema2 image', async () => {
    const image = await buildImage({ layers: [300_000, 200_000], dir: join(dir.path, 'v2s2') });
    const pushed = await pushImage(image, registry.host, 'app/docker:v1', { format: 'v2s2' });
    // The conversion rewrites the manifest only; configs and layers keep their bytes.
    expect(pushed.manifestDigest).not.toBe(image.manifestDigest);
    await pullTwice(image, pushed);
  });

  test('multi-platform index, all platforms', async () => {
    const image = await buildIndex({
      layers: [200_000, 100_000],
      dir: join(dir.path, 'index'),
      platforms: [
        { os: 'linux', architecture: 'amd64' },
        { os: 'linux', architecture: 'arm64' },
      ],
    });
    const pushed = await pushImage(image, registry.host, 'app/multi:v1');
    expect(pushed.manifestDigest).toBe(image.manifestDigest);
    await pullTwice(image, pushed, { allPlatforms: true });
    // The per-platform manifests went through the mirror too (by digest).
    for (const manifest of image.manifests) {
      expect(sha256(await ctrContentGet(second, manifest.digest))).toBe(manifest.digest);
    }
  });
});
