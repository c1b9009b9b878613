import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { runChecked } from '@flotilla/test';
import { OriginError, type BlobBody, type OriginClient } from '../src/index.ts';
import { startTestServer, testClient, type TestServer } from './helpers.ts';

// What the origin client's test files share: clients and servers closed after each test, and the error check.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs `cleanup` after the current test. */
export function afterThisTest(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

/** A test client, closed after the test. */
export function client(...args: Parameters<typeof testClient>): OriginClient {
  const c = testClient(...args);
  afterThisTest(() => c.close());
  return c;
}

/** A node:http server, closed after the test. */
export async function server(handler: Parameters<typeof startTestServer>[0]): Promise<TestServer> {
  const s = await startTestServer(handler);
  afterThisTest(() => s.close());
  return s;
}

/** A TCP server on 127.0.0.1 handing each connection to `onConnection`; it and its sockets close after the test. */
export async function tcpServer(onConnection: (socket: Socket) => void): Promise<string> {
  const sockets: Socket[] = [];
  const tcp = createTcpServer((socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  afterThisTest(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        tcp.close(() => resolve());
      }),
  );
  return `127.0.0.1:${(tcp.address() as AddressInfo).port}`;
}

/** A TCP server that answers every connection with `respond` once it has sent something (raw bytes, or nothing). */
export function rawServer(respond: (socket: Socket) => void): Promise<string> {
  return tcpServer((socket) => socket.once('data', () => respond(socket)));
}

/** An https server on 127.0.0.1 answering every request with `body`, under a fresh self-signed cert for 127.0.0.1. */
export async function httpsServer(body: string | Buffer): Promise<{ host: string; caPem: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'origin-tls-'));
  afterThisTest(() => rm(dir, { recursive: true, force: true }));
  const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
  await runChecked('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ]);
  const caPem = await readFile(cert, 'utf8');
  const https = createHttpsServer({ key: await readFile(key), cert: caPem }, (_req, res) => res.end(body));
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  afterThisTest(() => new Promise<void>((resolve) => https.close(() => resolve())));
  https.on('connection', (socket) => afterThisTest(() => void socket.destroy()));
  return { host: `127.0.0.1:${(https.address() as AddressInfo).port}`, caPem };
}

/** Asserts that `promise` rejects with an OriginError of `kind` (and a message matching `message`). */
export async function expectOriginError(promise: Promise<unknown>, kind: OriginError['kind'], message?: RegExp): Promise<OriginError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OriginError);
  expect((err as OriginError).kind).toBe(kind);
  if (message) expect((err as OriginError).message).toMatch(message);
  return err as OriginError;
}

/** Reads a pooled body to its end, copying each run out and releasing it, as a consumer must; `pauseMs(i)` after run i. */
export async function readBody(body: BlobBody, pauseMs?: (run: number) => number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let held = await body.read(); held; held = await body.read()) {
    parts.push(Buffer.from(held.bytes));
    held.release();
    const ms = pauseMs?.(parts.length - 1) ?? 0;
    if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
  }
  return Buffer.concat(parts);
}
