import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  buildImage,
  pushImage,
  readLayoutBlob,
  startFlotillaDaemon,
  startRegistry,
  type FlotillaDaemon,
  type Registry,
  type SingleImage,
} from '@flotilla/test';
import { MediaType } from '@flotilla/oci';
import { ociErrorCode, rawRequest, sha256, type RawResponse } from './support/http.ts';
import { tempDir } from './support/temp.ts';
import { defaultOriginArgs } from './support/origin.ts';

// Requirement 3: a request with no `ns` and no registry in its path goes to --default-registry; the answers carry
// the headers clients rely on (digest, length, type; never an encoding) and honour `Range: bytes=N-`.

let dir: Awaited<ReturnType<typeof tempDir>>;
let registry: Registry;
let daemon: FlotillaDaemon;
let image: SingleImage;

beforeAll(async () => {
  dir = await tempDir('default-registry');
  registry = await startRegistry();
  image = await buildImage({ layers: [300_000, 200_000, 100_000], dir: join(dir.path, 'img') });
  await pushImage(image, registry.host, 'app/x:v1');
  daemon = await startFlotillaDaemon({
    args: defaultOriginArgs(registry.host),
  });
});

afterAll(async () => {
  await Promise.all([daemon?.stop(), registry?.stop()]);
  await dir?.cleanup();
});

// Go clients send this on every GET and unpack transparently; a gzip-encoded blob would break their digest check.
const CLIENT_HEADERS = { 'accept-encoding': 'gzip' };
const MANIFEST_ACCEPT = { ...CLIENT_HEADERS, accept: `${MediaType.ociManifest}, ${MediaType.dockerManifest}` };

function get(path: string, headers: Record<string, string> = CLIENT_HEADERS): Promise<RawResponse> {
  return rawRequest(daemon.url, path, { headers });
}
function head(path: string, headers: Record<string, string> = CLIENT_HEADERS): Promise<RawResponse> {
  return rawRequest(daemon.url, path, { method: 'HEAD', headers });
}

function expectContentHeaders(res: RawResponse, digest: string, length: number, type: string): void {
  expect(res.headers['docker-content-digest']).toBe(digest);
  expect(res.headers['content-length']).toBe(String(length));
  expect(res.headers['content-type']).toBe(type);
  expect(res.headers['content-encoding']).toBeUndefined();
}

describe('manifests', () => {
  test('HEAD and GET by tag answer the pushed manifest', async () => {
    const manifest = await readLayoutBlob(image, image.manifestDigest);
    const byHead = await head('/v2/app/x/manifests/v1', MANIFEST_ACCEPT);
    expect(byHead.status).toBe(200);
    expectContentHeaders(byHead, image.manifestDigest, manifest.length, MediaType.ociManifest);
    expect(byHead.body.length).toBe(0);

    const byGet = await get('/v2/app/x/manifests/v1', MANIFEST_ACCEPT);
    expect(byGet.status).toBe(200);
    expectContentHeaders(byGet, image.manifestDigest, manifest.length, MediaType.ociManifest);
    expect(byGet.body.equals(manifest)).toBe(true);
  });

  test('HEAD and GET by digest', async () => {
    const manifest = await readLayoutBlob(image, image.manifestDigest);
    const path = `/v2/app/x/manifests/${image.manifestDigest}`;
    const byHead = await head(path, MANIFEST_ACCEPT);
    expect(byHead.status).toBe(200);
    expectContentHeaders(byHead, image.manifestDigest, manifest.length, MediaType.ociManifest);
    const byGet = await get(path, MANIFEST_ACCEPT);
    expect(byGet.status).toBe(200);
    expect(sha256(byGet.body)).toBe(image.manifestDigest);
  });
});

describe('blobs', () => {
  test('HEAD before any GET (not cached yet) and after', async () => {
    const layer = image.layers[0]!;
    const before = await head(`/v2/app/x/blobs/${layer.digest}`);
    expect(before.status).toBe(200);
    expect(before.headers['docker-content-digest']).toBe(layer.digest);
    expect(before.headers['content-length']).toBe(String(layer.size));
    expect(before.headers['content-encoding']).toBeUndefined();

    expect((await get(`/v2/app/x/blobs/${layer.digest}`)).status).toBe(200);
    const after = await head(`/v2/app/x/blobs/${layer.digest}`);
    expect(after.status).toBe(200);
    expect(after.headers['content-length']).toBe(String(layer.size));
    expect(after.headers['docker-content-digest']).toBe(layer.digest);
  });

  test('GET returns exactly the blob, from the origin and then from the cache', async () => {
    for (const blob of image.blobs) {
      for (let round = 0; round < 2; round++) {
        const res = await get(`/v2/app/x/blobs/${blob.digest}`);
        expect(res.status).toBe(200);
        expect(res.complete).toBe(true);
        expect(res.headers['docker-content-digest']).toBe(blob.digest);
        expect(res.headers['content-length']).toBe(String(blob.size));
        expect(res.headers['content-type']).toBeTypeOf('string');
        expect(res.headers['content-encoding']).toBeUndefined();
        expect(sha256(res.body)).toBe(blob.digest);
      }
    }
  });

  test('Range bytes=N- answers 206 with the tail, cached or not', async () => {
    const cached = image.layers[1]!; // fetched by the previous test
    await expectTail(cached.digest, cached.size, 12_345);
    const fresh = await buildImage({ layers: [400_000], dir: join(dir.path, 'range') });
    await pushImage(fresh, registry.host, 'app/x:range');
    const uncached = fresh.layers[0]!;
    await expectTail(uncached.digest, uncached.size, 200_001, fresh);
  });

  test('an unsatisfiable range answers 416', async () => {
    const blob = image.layers[2]!;
    const res = await get(`/v2/app/x/blobs/${blob.digest}`, { ...CLIENT_HEADERS, range: `bytes=${blob.size}-` });
    expect(res.status).toBe(416);
    expect(res.headers['content-range']).toBe(`bytes */${blob.size}`);
  });

  test('unknown blob is 404 BLOB_UNKNOWN', async () => {
    const res = await get(`/v2/app/x/blobs/sha256:${'0'.repeat(64)}`);
    expect(res.status).toBe(404);
    expect(ociErrorCode(res.body)).toBe('BLOB_UNKNOWN');
  });
});

async function expectTail(digest: string, size: number, start: number, source: SingleImage = image): Promise<void> {
  const res = await get(`/v2/app/x/blobs/${digest}`, { ...CLIENT_HEADERS, range: `bytes=${start}-` });
  expect(res.status).toBe(206);
  expect(res.headers['content-range']).toBe(`bytes ${start}-${size - 1}/${size}`);
  expect(res.headers['content-length']).toBe(String(size - start));
  expect(res.headers['content-encoding']).toBeUndefined();
  const whole = await readLayoutBlob(source, digest);
  expect(res.body.equals(whole.subarray(start))).toBe(true);
}
