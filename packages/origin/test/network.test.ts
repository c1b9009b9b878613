import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort, runChecked, waitFor } from '@flotilla/test';
import { OriginError, type OriginClient, type OriginRequest } from '../src/index.ts';
import { readAll, startTestServer, testClient, type TestServer } from './helpers.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(...args: Parameters<typeof testClient>): OriginClient {
  const c = testClient(...args);
  cleanups.push(() => c.close());
  return c;
}

async function server(handler: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const s = await startTestServer(handler);
  cleanups.push(() => s.close());
  return s;
}

/** A TCP server that accepts connections and never says a word. */
async function silentTcpServer(): Promise<string> {
  const sockets: Socket[] = [];
  const tcp: Server = createTcpServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tcp.close(() => resolve());
      }),
  );
  return `127.0.0.1:${(tcp.address() as AddressInfo).port}`;
}

/** undici checks header/body deadlines on a ~1 s resolution timer, so they fire within [deadline, deadline + 1 s]. */
const TIMER_SLACK_MS = 1_250;

const blob = (registry: string, extra: Partial<OriginRequest> = {}): OriginRequest => ({
  registry,
  repository: 'app/x',
  kind: 'blobs',
  reference: `sha256:${'a'.repeat(64)}`,
  method: 'GET',
  ...extra,
});

async function expectOriginError(promise: Promise<unknown>, kind: OriginError['kind']): Promise<OriginError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OriginError);
  expect((err as OriginError).kind).toBe(kind);
  return err as OriginError;
}

describe('redirects', () => {
  it('follows them, keeping Authorization on the registry origin and dropping it elsewhere', async () => {
    const storage = await server((_req, res) => res.writeHead(200, { 'content-length': '5' }).end('bytes'));
    const registry = await server((req, res) => {
      if (req.url!.startsWith('/v2/')) res.writeHead(302, { location: '/internal/blob' }).end();
      else res.writeHead(307, { location: `${storage.url}/bucket/blob?signature=abc` }).end();
    });
    const res = await client().request(blob(registry.host, { authorization: 'Bearer secret-token', range: 'bytes=0-4' }));
    expect(res.status).toBe(200);
    expect((await readAll(res.body)).toString()).toBe('bytes');
    expect(res.url).toBe(`${storage.url}/bucket/blob?signature=abc`);
    expect(registry.requests.map((r) => [r.url, r.headers.authorization])).toEqual([
      [`/v2/app/x/blobs/sha256:${'a'.repeat(64)}`, 'Bearer secret-token'],
      ['/internal/blob', 'Bearer secret-token'],
    ]);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    expect(storage.requests[0]!.headers.range).toBe('bytes=0-4');
  });

  it('gives up after 5 redirects with a protocol error', async () => {
    const loop = await server((_req, res) => res.writeHead(302, { location: '/again' }).end());
    await expectOriginError(client().request(blob(loop.host)), 'protocol');
    expect(loop.requests).toHaveLength(6);
  });
});

describe('deadlines and failures', () => {
  it('first byte: a server that accepts and never answers times out', async () => {
    const host = await silentTcpServer();
    const started = Date.now();
    const err = await expectOriginError(client({}, { firstByteTimeoutMs: 500 }).request(blob(host)), 'timeout');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(500 + TIMER_SLACK_MS);
    expect(err.message).toContain(host);
  });

  it('body idle: headers and half a body, then a stall, errors the body stream with a timeout', async () => {
    const stalled = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(500, 1));
    });
    const res = await client({}, { idleTimeoutMs: 500 }).request(blob(stalled.host));
    expect(res.status).toBe(200);
    const started = Date.now();
    await expectOriginError(readAll(res.body), 'timeout');
    expect(Date.now() - started).toBeLessThan(500 + TIMER_SLACK_MS);
  });

  it('connection refused is unreachable', async () => {
    const port = await freePort();
    await expectOriginError(client().request(blob(`127.0.0.1:${port}`)), 'unreachable');
  });

  it('aborting via the signal destroys the upstream request', async () => {
    let upstreamClosed = false;
    const stalled = await server((req, res) => {
      req.socket.once('close', () => (upstreamClosed = true));
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
    });
    const controller = new AbortController();
    const res = await client().request(blob(stalled.host, { signal: controller.signal }));
    const reading = readAll(res.body).then(
      () => 'ended',
      (err: unknown) => err,
    );
    controller.abort();
    const outcome = await reading;
    expect(outcome).toBeInstanceOf(Error);
    expect(outcome).not.toBeInstanceOf(OriginError);
    await waitFor(() => upstreamClosed, 2_000);
  });
});

describe('TLS', () => {
  let dir: string;
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('verifies https, trusting the configured CA in addition to the system roots', async () => {
    dir = await mkdtemp(join(tmpdir(), 'origin-tls-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await runChecked('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    const caPem = await readFile(cert, 'utf8');
    const https = createHttpsServer({ key: await readFile(key), cert: caPem }, (_req, res) => res.end('secure'));
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => https.close(() => resolve())));
    https.on('connection', (socket) => cleanups.push(() => void socket.destroy()));
    const host = `127.0.0.1:${(https.address() as AddressInfo).port}`;

    await expectOriginError(client({ [host]: { insecure: false } }).request(blob(host)), 'unreachable');
    const res = await client({ [host]: { insecure: false, caPem } }).request(blob(host));
    expect(res.status).toBe(200);
    expect(res.url.startsWith('https://')).toBe(true);
    expect((await readAll(res.body)).toString()).toBe('secure');
  });
});
