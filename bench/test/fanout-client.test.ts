import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pullImage, registryEndpoint, WrongContentError } from '../src/fanout/client.ts';
import type { BenchImage } from '../src/fanout/image.ts';

const digest = (bytes: Buffer) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
const config = Buffer.from('{}');
const layer = randomBytes(300_000);
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: [digest(layer)] }));
const image: BenchImage = {
  repository: 'bench/fanout',
  tag: 'v1',
  manifestDigest: digest(manifest),
  manifestSize: manifest.length,
  blobs: [
    { digest: digest(config), size: config.length, kind: 'config' },
    { digest: digest(layer), size: layer.length, kind: 'layer' },
  ],
  bytes: config.length + layer.length,
};

let server: Server;
let host: string;

beforeAll(async () => {
  const content = new Map([
    ['/v2/bench/fanout/manifests/v1', manifest],
    [`/v2/bench/fanout/blobs/${digest(config)}`, config],
    [`/v2/bench/fanout/blobs/${digest(layer)}`, layer],
  ]);
  server = createServer((req, res) => {
    const [path, query] = (req.url ?? '').split('?');
    let body = content.get(path!);
    if (!body) return res.writeHead(404).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
    // ?ns=corrupt flips one byte of the layer: what a broken mirror or peer would send.
    if (query === 'ns=corrupt' && body === layer) body = Buffer.concat([layer.subarray(0, 1000), Buffer.from([layer[1000]! ^ 1]), layer.subarray(1001)]);
    res.writeHead(200, { 'content-length': String(body.length) }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((resolve) => server.close(resolve)));

const options = () => {
  let bytes = 0;
  return { startedAt: performance.now(), signal: AbortSignal.timeout(10_000), onBytes: (n: number) => (bytes += n), bytes: () => bytes };
};

describe('fanout client', () => {
  test('pulls manifest, config and layers, verifying each', async () => {
    const o = options();
    const pull = await pullImage(registryEndpoint(host, image.repository), image, o);
    expect(o.bytes()).toBe(image.bytes);
    expect(pull.firstByteSeconds).toBeGreaterThan(0);
    expect(pull.doneSeconds).toBeGreaterThanOrEqual(pull.firstByteSeconds);
  });

  test('a layer with a wrong byte fails the pull with its digest', async () => {
    const pulling = pullImage(registryEndpoint(host, image.repository, 'corrupt'), image, options());
    await expect(pulling).rejects.toBeInstanceOf(WrongContentError);
    await expect(pulling).rejects.toThrow(digest(layer));
  });

  test('an error status fails the pull, naming the URL', async () => {
    await expect(pullImage(registryEndpoint(host, 'other/repo'), image, options())).rejects.toThrow(/manifests\/v1: HTTP 404/);
  });
});
