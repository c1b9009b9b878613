import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pushBlob, startRegistry, type Registry } from '@flotilla/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDaemonConfig, startDaemon, type RunningDaemon } from '../src/index.ts';
import { capturingLogger, tempDir } from './swarm-support.ts';

/** Accepts TCP connections and never says anything: a scheduler that hangs (worse than one that refuses). */
async function blackHole(): Promise<{ server: Server; address: string }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, address: `127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('daemon with an unreachable scheduler', () => {
  let registry: Registry;
  let hole: Awaited<ReturnType<typeof blackHole>>;
  let daemon: RunningDaemon;
  const blobs = [randomBytes(3 * 1024 * 1024), randomBytes(1024 * 1024)];
  const digests: string[] = [];
  const { logger, lines } = capturingLogger();

  beforeAll(async () => {
    registry = await startRegistry();
    for (const blob of blobs) digests.push(await pushBlob(registry, 'app/fallback', blob));
    hole = await blackHole();
    const config = loadDaemonConfig(
      [
        '--mirror-listen', '127.0.0.1:0',
        '--data-dir', await tempDir('swarm-fallback'),
        '--p2p-listen', '/ip4/127.0.0.1/tcp/0',
        '--scheduler', hole.address,
        '--default-registry', registry.host,
        '--insecure-registry', registry.host,
      ],
      {},
    );
    daemon = await startDaemon(config, logger);
  });

  afterAll(async () => {
    await daemon?.stop();
    hole?.server.close();
    await registry?.stop();
  });

  async function pull(digest: string): Promise<{ headersMs: number; digest: string; status: number }> {
    const { host, port } = daemon.mirrorAddress;
    const started = performance.now();
    const res = await fetch(`http://${host}:${port}/v2/app/fallback/blobs/${digest}`);
    const headersMs = performance.now() - started;
    const body = Buffer.from(await res.arrayBuffer());
    return { headersMs, status: res.status, digest: `sha256:${createHash('sha256').update(body).digest('hex')}` };
  }

  it('serves the blob from the origin within about a second, and later misses skip the scheduler', async () => {
    const first = await pull(digests[0]!);
    expect(first.status).toBe(200);
    expect(first.digest).toBe(digests[0]);
    expect(first.headersMs).toBeLessThan(1_500); // --scheduler-timeout (1 s), then the origin
    expect(lines.some((line) => line['msg'] === 'scheduler unavailable')).toBe(true);

    const second = await pull(digests[1]!);
    expect(second.status).toBe(200);
    expect(second.digest).toBe(digests[1]);
    expect(second.headersMs).toBeLessThan(500); // "scheduler down" is remembered
  });
});
