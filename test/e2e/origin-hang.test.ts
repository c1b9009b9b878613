import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startFlotillaDaemon, type FlotillaDaemon } from '@flotilla/test';
import { ociErrorCode, rawRequest } from './support/http.ts';

// Requirement 4: neither containerd nor skopeo has a response timeout, so the mirror must answer on its own when an
// origin accepts the connection and then says nothing.

let blackhole: Server;
const sockets = new Set<Socket>();
let accepted = 0;
let origin: string;
let daemon: FlotillaDaemon;

beforeAll(async () => {
  // Accepts, reads, never writes.
  blackhole = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume();
  });
  await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
  const address = blackhole.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  origin = `127.0.0.1:${address.port}`;
  daemon = await startFlotillaDaemon({
    args: [
      '--default-registry', origin,
      '--insecure-registry', origin,
      '--origin-first-byte-timeout', '1s',
      '--origin-idle-timeout', '1s',
    ],
  });
});

afterAll(async () => {
  await daemon?.stop();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => (blackhole ? blackhole.close(() => resolve()) : resolve()));
});

const DEADLINE_MS = 3_000;

test.each([
  ['manifest by tag', '/v2/app/x/manifests/v1'],
  ['manifest by digest', `/v2/app/x/manifests/sha256:${'1'.repeat(64)}`],
  ['blob', `/v2/app/x/blobs/sha256:${'2'.repeat(64)}`],
  ['blob, routed by ns', `/v2/app/x/blobs/sha256:${'3'.repeat(64)}?ns=ORIGIN`],
])('%s: a 5xx OCI error within the deadline', async (_name, path) => {
  const acceptedBefore = accepted;
  const started = performance.now();
  const res = await rawRequest(daemon.url, path.replace('ORIGIN', encodeURIComponent(origin)), { timeoutMs: 10_000 });
  const elapsed = performance.now() - started;
  expect(elapsed).toBeLessThan(DEADLINE_MS);
  expect(res.status).toBeGreaterThanOrEqual(500);
  expect(res.status).toBeLessThan(600);
  expect(ociErrorCode(res.body)).toBeTypeOf('string');
  // The answer came from the deadline, not from a refused connection.
  expect(accepted).toBeGreaterThan(acceptedBefore);
});

test('HEAD of a manifest also answers within the deadline', async () => {
  const started = performance.now();
  const res = await rawRequest(daemon.url, '/v2/app/x/manifests/v2', { method: 'HEAD', timeoutMs: 10_000 });
  expect(performance.now() - started).toBeLessThan(DEADLINE_MS);
  expect(res.status).toBeGreaterThanOrEqual(500);
});
