import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '@flotilla/log';
import { parseDigest } from '@flotilla/oci';
import { OriginClient } from '@flotilla/origin';
import { TestNetwork } from '@flotilla/p2p/testing';
import { TokenBucket } from '@flotilla/ratelimit';
import type { ContentStore } from '@flotilla/store';
import { pushBlob, registryRequests, startRegistry, type Registry } from '@flotilla/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDaemonConfig, startDaemon, type RunningDaemon } from '../src/index.ts';
import { PieceDownload } from '../src/swarm/piece-download.ts';
import { SchedulerClient } from '../src/swarm/scheduler-client.ts';
import { capturingLogger, fakeScheduler, makeBlob, storeWith, tempDir } from './swarm-support.ts';

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

describe('piece download whose parents are all gone', () => {
  let registry: Registry;
  let net: TestNetwork;
  let store: ContentStore;
  let origin: OriginClient;

  beforeAll(async () => {
    registry = await startRegistry();
    net = await TestNetwork.create();
    store = await storeWith([]);
    origin = new OriginClient({
      access: () => ({ insecure: true }),
      connectTimeoutMs: 1_000,
      firstByteTimeoutMs: 2_000,
      idleTimeoutMs: 2_000,
      logger: silentLogger(),
    });
  });
  afterAll(async () => {
    await origin?.close();
    await store?.close();
    await net?.stop();
    await registry?.stop();
  });

  it('asks to be rescheduled, then takes the remaining pieces from the origin with Range requests', async () => {
    const blob = makeBlob(5 * 1024 * 1024 + 17);
    await pushBlob(registry, 'app/pieces', blob.bytes);
    const dead = await net.node();
    const scheduler = await fakeScheduler(await net.node(), blob, [dead]);
    await dead.stop();

    const child = await net.node();
    const { logger, lines } = capturingLogger();
    const client = new SchedulerClient({ node: child, address: scheduler.address, timeoutMs: 1_000, registration: { uploadSlots: 4 }, logger });
    const request = { registry: registry.host, repository: 'app/pieces', digest: parseDigest(blob.digest), signal: new AbortController().signal };
    const assignment = await client.call({ type: 'task', digest: blob.digest, registry: registry.host, repository: 'app/pieces' });
    if (assignment.type !== 'task-assigned') throw new Error(`unexpected ${assignment.type}`);
    const writer = await store.createWriter(request.digest, blob.meta.size);
    await new PieceDownload({
      node: child,
      request,
      assignment,
      writer,
      scheduler: client,
      origin,
      downloadBucket: new TokenBucket(0),
      piecesInFlight: 4,
      pieceTimeoutMs: 500,
      onPiece: () => {},
      logger,
    }).run();
    const record = await writer.commit({ source: 'test' });

    expect((await readFile(store.blobPath(record.digest))).equals(blob.bytes)).toBe(true);
    expect(scheduler.requests).toContainEqual({ type: 'reschedule', digest: blob.digest, exclude: [dead.peerId.toString()] });
    expect(lines.find((l) => l['msg'] === 'swarm download finished')).toMatchObject({ bytes_from_origin: blob.meta.size, bytes_from_peers: 0 });
    const ranged = registryRequests(registry).filter((r) => r.method === 'GET' && r.path.includes('/blobs/') && r.status === 206);
    expect(ranged).toHaveLength(blob.meta.pieceCount);
  });
});
