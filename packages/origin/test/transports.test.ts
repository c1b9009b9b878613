import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from '@flotilla/test';
import { OriginError, type OriginClient } from '../src/index.ts';
import { readAll } from './helpers.ts';
import { client, expectOriginError, httpsServer, rawServer, readBody, server } from './scaffold.ts';

// What both of the client's transports must do alike — redirects, TLS, deadlines and failures: request() (undici,
// node streams) and requestBlob() (the pooled HTTP/1.1 client of cold blob pulls).

interface Transport {
  name: string;
  /** A blob GET to `registry`; resolves once the head is in. `range` only where the transport takes one. */
  get(origin: OriginClient, registry: string, options?: GetOptions): Promise<{ status: number; url: string; read(): Promise<Buffer> }>;
  /** Sends a Range header (request(); a cold pull always wants the whole blob). */
  takesRange: boolean;
  /** How far past a deadline it may fire: undici checks on a ~1 s timer, ours are socket timers. */
  timerSlackMs: number;
  /** An abort rejects the body with the signal's reason itself (else with some non-origin error). */
  abortsWithReason: boolean;
}

interface GetOptions {
  signal?: AbortSignal;
  authorization?: string;
  range?: string;
}

const DIGEST = `sha256:${'a'.repeat(64)}`;
const blob = { repository: 'app/x', reference: DIGEST };

const TRANSPORTS: Transport[] = [
  {
    name: 'request()',
    async get(origin, registry, options = {}) {
      const res = await origin.request({ registry, ...blob, kind: 'blobs', method: 'GET', ...options });
      return { status: res.status, url: res.url, read: () => readAll(res.body) };
    },
    takesRange: true,
    timerSlackMs: 1_250,
    abortsWithReason: false,
  },
  {
    name: 'requestBlob()',
    async get(origin, registry, { range, ...options } = {}) {
      expect(range).toBeUndefined();
      const res = await origin.requestBlob({ registry, ...blob, ...options });
      return { status: res.status, url: res.url, read: () => readBody(res.body) };
    },
    takesRange: false,
    timerSlackMs: 1_000,
    abortsWithReason: true,
  },
];

describe.each(TRANSPORTS)('redirects: $name', (transport) => {
  it('follows them, keeping Authorization on the registry origin and dropping it elsewhere', async () => {
    const storage = await server((_req, res) => res.writeHead(200, { 'content-length': '5' }).end('bytes'));
    const registry = await server((req, res) => {
      if (req.url!.startsWith('/v2/')) res.writeHead(302, { location: '/internal/blob' }).end();
      else res.writeHead(307, { location: `${storage.url}/bucket/blob?signature=abc` }).end();
    });
    const range = transport.takesRange ? { range: 'bytes=0-4' } : {};
    const res = await transport.get(client(), registry.host, { authorization: 'Bearer secret-token', ...range });
    expect(res.status).toBe(200);
    expect((await res.read()).toString()).toBe('bytes');
    expect(res.url).toBe(`${storage.url}/bucket/blob?signature=abc`);
    expect(registry.requests.map((r) => [r.url, r.headers.authorization])).toEqual([
      [`/v2/app/x/blobs/${DIGEST}`, 'Bearer secret-token'],
      ['/internal/blob', 'Bearer secret-token'],
    ]);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    if (transport.takesRange) expect(storage.requests[0]!.headers.range).toBe('bytes=0-4');
  });

  it('gives up after 5 redirects with a protocol error', async () => {
    const loop = await server((_req, res) => res.writeHead(302, { location: '/again' }).end());
    await expectOriginError(transport.get(client(), loop.host), 'protocol');
    expect(loop.requests).toHaveLength(6);
  });
});

describe.each(TRANSPORTS)('TLS: $name', (transport) => {
  it('verifies https, trusting the configured CA in addition to the system roots', async () => {
    const payload = Buffer.alloc(3 << 20, 7);
    const { host, caPem } = await httpsServer(payload);

    await expectOriginError(transport.get(client({ [host]: { insecure: false } }), host), 'unreachable');
    const res = await transport.get(client({ [host]: { insecure: false, caPem } }), host);
    expect(res.status).toBe(200);
    expect(res.url.startsWith('https://')).toBe(true);
    expect((await res.read()).equals(payload)).toBe(true);
  });
});

describe.each(TRANSPORTS)('deadlines and failures: $name', (transport) => {
  it('first byte: a server that accepts and never answers times out, naming the host', async () => {
    const host = await rawServer(() => {});
    const started = Date.now();
    await expectOriginError(transport.get(client({}, { firstByteTimeoutMs: 500 }), host), 'timeout', new RegExp(host));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(500 + transport.timerSlackMs);
  });

  it('body idle: headers and half a body, then a stall, fail the body with a timeout', async () => {
    const stalled = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(500, 1));
    });
    const res = await transport.get(client({}, { idleTimeoutMs: 500 }), stalled.host);
    expect(res.status).toBe(200);
    const started = Date.now();
    await expectOriginError(res.read(), 'timeout');
    expect(Date.now() - started).toBeLessThan(500 + transport.timerSlackMs);
  });

  it('connection refused is unreachable', async () => {
    const port = await freePort();
    await expectOriginError(transport.get(client(), `127.0.0.1:${port}`), 'unreachable');
  });

  it('aborting via the signal fails the body and closes the upstream connection', async () => {
    let upstreamClosed = false;
    const stalled = await server((req, res) => {
      req.socket.once('close', () => (upstreamClosed = true));
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
    });
    const controller = new AbortController();
    const res = await transport.get(client(), stalled.host, { signal: controller.signal });
    const reading = res.read().then(
      () => 'ended',
      (err: unknown) => err,
    );
    const reason = new Error('shutting down');
    controller.abort(reason);
    const outcome = await reading;
    expect(outcome).toBeInstanceOf(Error);
    expect(outcome).not.toBeInstanceOf(OriginError);
    if (transport.abortsWithReason) expect(outcome).toBe(reason);
    await waitFor(() => upstreamClosed, 2_000);
  });
});
