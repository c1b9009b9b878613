import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, MediaType } from '@flotilla/oci';
import { pushRandomImage, startRegistry, type PushedTestImage, type Registry } from '@flotilla/test';
import type { OriginClient } from '../src/index.ts';
import { readAll, recordingLogger, startTestServer, testClient, type TestServer } from './helpers.ts';

let registry: Registry;
let image: PushedTestImage;
let client: OriginClient;
let log: ReturnType<typeof recordingLogger>;

beforeAll(async () => {
  registry = await startRegistry();
  image = await pushRandomImage(registry, 'app/plain', 'v1', { layerSizes: [300_000, 1_000] });
  log = recordingLogger();
  client = testClient({}, { logger: log.logger });
});
afterAll(async () => {
  await client?.close();
  await registry?.stop();
});

const base = { repository: 'app/plain', accept: [MediaType.ociManifest, MediaType.ociIndex] };

describe('manifests', () => {
  for (const by of ['tag', 'digest'] as const) {
    it(`GET by ${by} returns the exact bytes and descriptor headers`, async () => {
      const reference = by === 'tag' ? 'v1' : image.manifestDigest;
      const res = await client.request({ ...base, registry: registry.host, kind: 'manifests', reference, method: 'GET' });
      expect(res.status).toBe(200);
      const bytes = await readAll(res.body);
      expect(bytes.equals(image.manifest)).toBe(true);
      expect(res.headers['docker-content-digest']).toBe(image.manifestDigest);
      expect(res.headers['content-type']).toBe(MediaType.ociManifest);
      expect(res.headers['content-length']).toBe(String(image.manifest.length));
      expect(res.url).toBe(`${registry.url}/v2/app/plain/manifests/${reference}`);
    });

    it(`HEAD by ${by} returns headers and an empty body`, async () => {
      const reference = by === 'tag' ? 'v1' : image.manifestDigest;
      const res = await client.request({ ...base, registry: registry.host, kind: 'manifests', reference, method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.headers['docker-content-digest']).toBe(image.manifestDigest);
      expect(res.headers['content-length']).toBe(String(image.manifest.length));
      expect((await readAll(res.body)).length).toBe(0);
    });
  }

  it('relays a 404 with the registry error body', async () => {
    const res = await client.request({ ...base, registry: registry.host, kind: 'manifests', reference: 'nope', method: 'GET' });
    expect(res.status).toBe(404);
    expect(JSON.parse((await readAll(res.body)).toString()).errors[0].code).toBe('MANIFEST_UNKNOWN');
  });

  it('logs one debug line per upstream request', async () => {
    const res = await client.request({ ...base, registry: registry.host, kind: 'manifests', reference: 'v1', method: 'HEAD' });
    await readAll(res.body);
    const line = log.lines().findLast((l) => l.msg === 'origin request');
    expect(line).toMatchObject({ level: 20, registry: registry.host, repository: 'app/plain', kind: 'manifests', reference: 'v1', status: 200 });
    expect(typeof line?.duration_ms).toBe('number');
  });
});

describe('blobs', () => {
  it('GET streams the exact bytes', async () => {
    for (const layer of [...image.layers, image.config]) {
      const res = await client.request({ registry: registry.host, repository: 'app/plain', kind: 'blobs', reference: layer.digest, method: 'GET' });
      expect(res.status).toBe(200);
      const bytes = await readAll(res.body);
      expect(digestOf(bytes)).toBe(layer.digest);
      expect(bytes.length).toBe(layer.bytes.length);
    }
  });

  it('Range returns 206 with the requested slice', async () => {
    const layer = image.layers[0]!;
    const res = await client.request({
      registry: registry.host,
      repository: 'app/plain',
      kind: 'blobs',
      reference: layer.digest,
      method: 'GET',
      range: 'bytes=1000-1999',
    });
    expect(res.status).toBe(206);
    expect(res.headers['content-range']).toBe(`bytes 1000-1999/${layer.bytes.length}`);
    expect((await readAll(res.body)).equals(layer.bytes.subarray(1000, 2000))).toBe(true);
  });

  it('a caller that destroys the body early does not break the next request', async () => {
    const layer = image.layers[0]!;
    const res = await client.request({ registry: registry.host, repository: 'app/plain', kind: 'blobs', reference: layer.digest, method: 'GET' });
    res.body.destroy();
    const again = await client.request({ registry: registry.host, repository: 'app/plain', kind: 'blobs', reference: layer.digest, method: 'GET' });
    expect(digestOf(await readAll(again.body))).toBe(layer.digest);
  });
});

describe('request headers', () => {
  let echo: TestServer;
  beforeAll(async () => {
    echo = await startTestServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  });
  afterAll(() => echo?.close());

  it('forwards each Accept value as its own header line, Range as is, and never asks for compression', async () => {
    const accept = [MediaType.ociManifest, 'application/vnd.docker.distribution.manifest.v2+json', MediaType.ociIndex];
    const res = await client.request({
      registry: echo.host,
      repository: 'library/alpine',
      kind: 'manifests',
      reference: 'latest',
      method: 'GET',
      accept,
      range: 'bytes=0-1',
    });
    await readAll(res.body);
    const req = echo.requests.at(-1)!;
    expect(req.url).toBe('/v2/library/alpine/manifests/latest');
    expect(req.headersDistinct.accept).toEqual(accept);
    expect(req.headers.range).toBe('bytes=0-1');
    expect(req.headers['accept-encoding']).toBeUndefined();
    expect(req.headers.authorization).toBeUndefined();
  });
});
