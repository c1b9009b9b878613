import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '@flotilla/oci';
import { pushRandomImage, startRegistry, type PushedTestImage, type Registry } from '@flotilla/test';
import type { OriginBlobRequest } from '../src/index.ts';
import { client, expectOriginError, rawServer, readBody, server, tcpServer } from './scaffold.ts';

// requestBlob: the blob GET whose body is read into pooled memory over a connection of its own. Same auth,
// redirect and deadline rules as request(); these tests cover the transport itself.

const DIGEST = `sha256:${'a'.repeat(64)}`;
const blob = (registry: string, extra: Partial<OriginBlobRequest> = {}): OriginBlobRequest => ({
  registry,
  repository: 'app/x',
  reference: DIGEST,
  ...extra,
});

describe('from a registry', () => {
  let registry: Registry;
  let image: PushedTestImage;
  beforeAll(async () => {
    registry = await startRegistry();
    image = await pushRandomImage(registry, 'app/plain', 'v1', { layerSizes: [5_000_000, 1_000] });
  });
  afterAll(() => registry?.stop());

  it('GET delivers the exact bytes', async () => {
    for (const layer of image.layers) {
      const res = await client().requestBlob({ registry: registry.host, repository: 'app/plain', reference: layer.digest });
      expect(res.status).toBe(200);
      expect(res.headers['content-length']).toBe(String(layer.bytes.length));
      expect(digestOf(await readBody(res.body))).toBe(layer.digest);
    }
  });

  it('Range returns 206 with the slice; a 404 comes back as a status', async () => {
    const layer = image.layers[0]!;
    const c = client();
    const res = await c.requestBlob({ registry: registry.host, repository: 'app/plain', reference: layer.digest, range: 'bytes=1000-1999' });
    expect(res.status).toBe(206);
    expect((await readBody(res.body)).equals(layer.bytes.subarray(1000, 2000))).toBe(true);
    const missing = await c.requestBlob({ registry: registry.host, repository: 'app/plain', reference: DIGEST });
    expect(missing.status).toBe(404);
    missing.body.destroy();
  });
});

describe('framings', () => {
  const payload = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251));

  it('chunked, in many writes', async () => {
    const chunked = await server((_req, res) => {
      res.writeHead(200);
      for (let at = 0; at < payload.length; at += 700) res.write(payload.subarray(at, at + 700));
      res.end();
    });
    const res = await client().requestBlob(blob(chunked.host));
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect((await readBody(res.body)).equals(payload)).toBe(true);
  });

  it('delimited by the connection closing, after an interim 100 Continue', async () => {
    const host = await rawServer((socket) => {
      socket.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n');
      socket.end(payload);
    });
    const res = await client().requestBlob(blob(host));
    expect(res.status).toBe(200);
    expect((await readBody(res.body)).equals(payload)).toBe(true);
  });

  it('a body cut short of its Content-Length fails with a protocol error naming the byte counts', async () => {
    const host = await rawServer((socket) => socket.end(Buffer.concat([Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n'), payload.subarray(0, 1000)])));
    const res = await client().requestBlob(blob(host));
    await expectOriginError(readBody(res.body), 'protocol', /1000 of 3000/);
  });

  it('a reply that is not HTTP/1.1 is a protocol error', async () => {
    const host = await rawServer((socket) => socket.end('SSH-2.0-OpenSSH\r\n\r\n'));
    await expectOriginError(client().requestBlob(blob(host)), 'protocol', /status line/);
  });
});

describe('a large body read slowly', () => {
  it('arrives whole: the connection stops reading while the reader lags, and the idle deadline does not count that', async () => {
    const big = Buffer.alloc(24 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const origin = await server((_req, res) => res.writeHead(200, { 'content-length': big.length }).end(big));
    const res = await client({}, { idleTimeoutMs: 300 }).requestBlob(blob(origin.host));
    // The first pause outlasts the idle deadline: the origin is not silent, the reader is holding it back.
    const received = await readBody(res.body, (run) => (run === 0 ? 800 : 5));
    expect(createHash('sha256').update(received).digest('hex')).toBe(createHash('sha256').update(big).digest('hex'));
  });
});

describe('auth', () => {
  it('a Basic challenge is answered with the configured credentials', async () => {
    const expected = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    const registry = await server((req, res) => {
      if (req.headers.authorization === expected) res.writeHead(200, { 'content-length': '2' }).end('ok');
      else res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"', 'content-length': '6' }).end('denied');
    });
    const res = await client({ [registry.host]: { username: 'alice', password: 's3cret' } }).requestBlob(blob(registry.host));
    expect(res.status).toBe(200);
    expect((await readBody(res.body)).toString()).toBe('ok');
    const denied = await client().requestBlob(blob(registry.host));
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Basic realm="registry"');
    expect((await readBody(denied.body)).toString()).toBe('denied');
  });
});

describe('kept connections', () => {
  /** A raw HTTP/1.1 server that answers each request on a connection with `answer(n)` (n counts from 1). */
  async function countingServer(answer: (socket: Socket, n: number) => void): Promise<{ host: string; connections: () => number }> {
    let connections = 0;
    const host = await tcpServer((socket) => {
      connections++;
      let requests = 0;
      let text = '';
      socket.on('data', (chunk) => {
        text += chunk.toString('latin1');
        for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
          text = text.slice(end + 4);
          answer(socket, ++requests);
        }
      });
    });
    return { host, connections: () => connections };
  }

  const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n${extra}\r\n${body}`;

  it('a connection whose response ended cleanly serves the next blob GET to that origin', async () => {
    const origin = await countingServer((socket, n) => socket.write(n % 2 ? ok('first') : `HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n`));
    const c = client();
    for (const expected of ['first', 'second', 'first']) {
      const res = await c.requestBlob(blob(origin.host));
      expect((await readBody(res.body)).toString()).toBe(expected);
    }
    expect(origin.connections()).toBe(1);
  });

  it('a kept connection the server closed before answering is replaced by a new one, once', async () => {
    const origin = await countingServer((socket, n) => (n === 1 ? socket.write(ok('first')) : socket.destroy()));
    const c = client();
    expect((await readBody((await c.requestBlob(blob(origin.host))).body)).toString()).toBe('first');
    expect((await readBody((await c.requestBlob(blob(origin.host))).body)).toString()).toBe('first');
    expect(origin.connections()).toBe(2);
  });

  it('is not kept after Connection: close, after bytes past the body, or from an HTTP/1.0 server', async () => {
    for (const answer of [ok('x', 'connection: close\r\n'), ok('x') + 'junk', 'HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx']) {
      const origin = await countingServer((socket) => socket.write(answer));
      const c = client();
      for (let i = 0; i < 2; i++) expect((await readBody((await c.requestBlob(blob(origin.host))).body)).toString()).toBe('x');
      expect(origin.connections()).toBe(2);
    }
  });
});
