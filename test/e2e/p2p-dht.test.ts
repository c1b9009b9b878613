import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  pushBlob,
  pushRandomImage,
  startCountingProxy,
  startRegistry,
  waitFor,
  type CountingProxy,
  type PushedTestImage,
  type Registry,
} from '@flotilla/test';
import { bootstrapped, linesWith, pullBlob, pullImage, startSwarmDaemon, type SwarmDaemon } from './p2p-dht-support.ts';

// Issue 4: daemons with no scheduler at all find each other's blobs in the DHT. Real processes on loopback; the
// origin sits behind a counting proxy, so what it served is measured outside Flotilla.

const MiB = 1024 * 1024;
const REPO = 'app/dht';
/** The daemons' default --dht-lookup-timeout. */
const LOOKUP_TIMEOUT_MS = 100;

let registry: Registry;
let proxy: CountingProxy;
let image: PushedTestImage;
const daemons: SwarmDaemon[] = [];
let a: SwarmDaemon;
let b: SwarmDaemon;
let c: SwarmDaemon;

/** A daemon bootstrapped only to A; debug logs show its provide calls. */
async function peerOfA(env: NodeJS.ProcessEnv = {}): Promise<SwarmDaemon> {
  const daemon = await startSwarmDaemon(proxy.host, ['--bootstrap', a.p2pAddress, '--log-level', 'debug'], { env });
  daemons.push(daemon);
  await bootstrapped(daemon);
  return daemon;
}

/** Waits until the daemon has put a provider record for each digest in the DHT. */
async function provided(daemon: SwarmDaemon, digests: string[]): Promise<void> {
  await waitFor(() => digests.every((digest) => linesWith(daemon, 'provided', { digest }).length > 0), 10_000);
}

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
  image = await pushRandomImage(registry, REPO, 'v1', { layerSizes: [6 * MiB, 3 * MiB] });
  a = await startSwarmDaemon(proxy.host, ['--log-level', 'debug']);
  daemons.push(a);
  [b, c] = await Promise.all([peerOfA(), peerOfA()]);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await proxy?.close();
  await registry?.stop();
});

describe('no scheduler: the DHT', () => {
  test('A pulls an image from the origin; B and C, bootstrapped only to A, pull it without a blob GET at the origin', async () => {
    const blobs = [image.config, ...image.layers];
    const fromA = await pullImage(a, REPO, 'v1');
    for (const blob of blobs) expect(fromA.get(blob.digest)?.digest).toBe(blob.digest);
    await provided(a, blobs.map((blob) => blob.digest));
    const originBefore = blobs.map((blob) => proxy.blobBytes(blob.digest));
    expect(originBefore).toEqual(blobs.map((blob) => blob.bytes.length));

    for (const daemon of [b, c]) {
      const pulls = await pullImage(daemon, REPO, 'v1');
      for (const blob of blobs) expect(pulls.get(blob.digest)?.digest).toBe(blob.digest);
      for (const blob of blobs) expect(linesWith(daemon, 'blob from DHT providers', { digest: blob.digest })).toHaveLength(1);
    }
    expect(blobs.map((blob) => proxy.blobBytes(blob.digest))).toEqual(originBefore);
  });

  test('a provider record pointing at a dead daemon: the pull completes within the lookup deadline + 1 s', async () => {
    const doomed = await peerOfA();
    const digest = await pushBlob(registry, REPO, randomBytes(2 * MiB));
    expect((await pullBlob(doomed, REPO, digest)).digest).toBe(digest);
    await provided(doomed, [digest]);
    await doomed.kill();

    const pull = await pullBlob(c, REPO, digest);
    expect(pull.digest).toBe(digest);
    console.log(`dead provider: pull took ${Math.round(pull.durationMs)} ms`);
    expect(pull.durationMs).toBeLessThan(LOOKUP_TIMEOUT_MS + 1_000);
    expect(linesWith(c, 'provider unreachable; skipped', { digest, peer: doomed.peerId })).toHaveLength(1);
    expect(proxy.blobBytes(digest)).toBe(2 * 2 * MiB); // the dead daemon's copy and C's
  });

  test('a provider whose blob does not match: the response is cut before its end, the provider marked bad, the retry comes from the origin', async () => {
    const corrupt = await peerOfA({ FLOTILLA_FAULT_CORRUPT_UPLOAD: '1' });
    const digest = await pushBlob(registry, REPO, randomBytes(3 * MiB));
    expect((await pullBlob(corrupt, REPO, digest)).digest).toBe(digest); // its own copy is fine: only uploads are corrupted
    await provided(corrupt, [digest]);

    const first = await pullBlob(b, REPO, digest);
    expect(first.status).toBe(200);
    expect(first.digest).toBeUndefined(); // cut short: the client never sees a complete wrong body
    expect(linesWith(b, 'blob from providers does not match its digest; providers marked bad', { digest })).toHaveLength(1);

    const retry = await pullBlob(b, REPO, digest);
    expect(retry.digest).toBe(digest);
    expect(proxy.blobBytes(digest)).toBe(2 * 3 * MiB); // the corrupt daemon's own fetch and B's retry
  });
});
