import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@flotilla/log';
import { digestOf } from '@flotilla/oci';
import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { pushBlob, registryRequests, startRegistry, waitFor, type Registry } from '@flotilla/test';
import { pieceGet, pieceRange, pieceWatch, schedCall, type TaskMeta } from '@flotilla/wire';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchedulerConfig, startScheduler, type RunningScheduler } from '../src/index.ts';

const REPOSITORY = 'flotilla/seed-test';
/** Six pieces of 1 MiB, the last one short. */
const BLOB = randomBytes(5 * 2 ** 20 + 4321);
const BLOB_DIGEST = digestOf(BLOB);
/** Slow enough that the first task-assigned comes while most piece digests are still unknown. */
const SEED_DOWNLOAD_RATE = 4 * 2 ** 20;

const sha256 = (bytes: Uint8Array) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('scheduler seeding from a real origin', () => {
  let registry: Registry;
  let scheduler: RunningScheduler;
  let dataDir: string;
  let net: TestNetwork;
  let config: ReturnType<typeof loadSchedulerConfig>;
  let logger: ReturnType<typeof createLogger>;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    await pushBlob(registry, REPOSITORY, BLOB);
    dataDir = await mkdtemp(join(tmpdir(), 'flotilla-scheduler-'));
    config = loadSchedulerConfig(
      ['--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--http-listen', '127.0.0.1:0', '--data-dir', dataDir, '--insecure-registry', registry.host],
      { FLOTILLA_DOWNLOAD_RATE: String(SEED_DOWNLOAD_RATE) },
    );
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    logger = createLogger({ name: 'scheduler', destination: sink });
    scheduler = await startScheduler(config, logger);
    net = await TestNetwork.create();
  });

  afterAll(async () => {
    await net?.stop();
    await scheduler?.stop();
    await registry?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  /** A daemon stand-in: a libp2p node registered with the scheduler. */
  async function client(zone?: string): Promise<P2PNode> {
    const node = await net.node();
    const registered = await schedCall(node, multiaddr(scheduler.p2pAddresses[0]!), {
      type: 'register',
      addresses: node.getMultiaddrs().map(String),
      uploadSlots: 10,
      ...(zone ? { zone } : {}),
    });
    expect(registered).toEqual({ type: 'registered', ttlMs: 30_000 });
    return node;
  }

  const schedulerPeer = () => multiaddr(scheduler.p2pAddresses[0]!);
  const blobGets = () => registryRequests(registry).filter((r) => r.method === 'GET' && r.path.includes(`/blobs/${BLOB_DIGEST}`));

  it('logs a parsable "scheduler listening" line', () => {
    const line = logLines.find((l) => l.msg === 'scheduler listening');
    expect(line?.peerId).toBe(scheduler.peerId);
    expect(line?.http).toBe(scheduler.httpAddress);
    expect(scheduler.p2pAddresses[0]).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${scheduler.peerId}$`));
  });

  it('seeds once from the origin and serves verified pieces that reassemble into the blob', async () => {
    const node = await client();
    const task = await schedCall(node, schedulerPeer(), { type: 'task', digest: BLOB_DIGEST, registry: registry.host, repository: REPOSITORY });
    if (task.type !== 'task-assigned') throw new Error(`expected task-assigned, got ${JSON.stringify(task)}`);
    const meta: TaskMeta = task.meta;
    expect(meta).toMatchObject({ digest: BLOB_DIGEST, size: BLOB.byteLength, pieceLength: 2 ** 20, pieceCount: 6 });
    expect(task.parents.map((p) => p.peerId)).toEqual([scheduler.peerId]);
    // Answered as soon as the size was known, long before the throttled seed had every piece.
    expect(meta.pieceDigests.filter((d) => d === null).length).toBeGreaterThan(0);

    // Watch the seed's availability while fetching, as a daemon would.
    const haves: number[] = [];
    const watchDigests = new Map<number, string>();
    let watchComplete = false;
    const watching = (async () => {
      for await (const have of pieceWatch(node, peerIdFromString(scheduler.peerId), { digest: BLOB_DIGEST, pieceCount: meta.pieceCount })) {
        haves.push(...have.pieces);
        have.pieces.forEach((index, k) => watchDigests.set(index, have.digests![k]!));
        if (have.complete) watchComplete = true;
      }
    })();

    const digests = [...meta.pieceDigests];
    const pieces: Buffer[] = [];
    for (let index = 0; index < meta.pieceCount; index++) {
      const { start, end } = pieceRange(index, meta.size, meta.pieceLength);
      const piece = await waitFor(async () => {
        const chunks: Uint8Array[] = [];
        const reply = await pieceGet(node, peerIdFromString(scheduler.peerId), { digest: BLOB_DIGEST, index }, { expectedLength: end - start, onChunk: (c) => void chunks.push(c.slice()) });
        return reply.type === 'piece' ? Buffer.concat(chunks) : undefined;
      }, 20_000);
      // A piece is served only once its digest is known: the report-ack carries it if the meta did not.
      const ack = await schedCall(node, schedulerPeer(), { type: 'report', digest: BLOB_DIGEST, finished: [index], failed: [] }, { pieceCount: meta.pieceCount });
      if (ack.type !== 'report-ack') throw new Error(`expected report-ack, got ${JSON.stringify(ack)}`);
      ack.pieceDigests?.digests.forEach((d, i) => (digests[ack.pieceDigests!.from + i] = d));
      expect(digests[index], `digest of piece ${index}`).toBe(sha256(piece));
      pieces.push(piece);
    }
    const blob = Buffer.concat(pieces);
    expect(blob.byteLength).toBe(BLOB.byteLength);
    expect(digestOf(blob)).toBe(BLOB_DIGEST);
    await watching;
    expect(watchComplete).toBe(true);
    expect(logLines.find((l) => l.msg === 'peer finished task' && l.peer === node.peerId.toString())).toMatchObject({
      digest: BLOB_DIGEST,
      bytes: BLOB.byteLength,
    });
    expect(haves).toEqual([0, 1, 2, 3, 4, 5]);
    // The seed's watch carries each piece's digest with it: children need not poll for them.
    expect([...watchDigests.entries()]).toEqual(pieces.map((piece, index) => [index, sha256(piece)]));

    await waitFor(() => logLines.find((l) => l.msg === 'task seeded' && l.digest === BLOB_DIGEST), 10_000);
    const seeded = logLines.find((l) => l.msg === 'task seeded')!;
    expect(seeded).toMatchObject({ bytes: BLOB.byteLength });
    expect(typeof seeded.duration_ms).toBe('number');
  });

  it('does not go to the origin again for a digest it has seeded', async () => {
    const node = await client();
    const task = await schedCall(node, schedulerPeer(), { type: 'task', digest: BLOB_DIGEST, registry: registry.host, repository: REPOSITORY });
    if (task.type !== 'task-assigned') throw new Error(`expected task-assigned, got ${JSON.stringify(task)}`);
    expect(task.meta.pieceDigests.every((d) => d !== null)).toBe(true);
    expect(blobGets()).toHaveLength(1);
  });

  it('sends the daemon back to the source when the origin has no such blob', async () => {
    const node = await client();
    const missing = digestOf(randomBytes(64));
    const answer = await schedCall(node, schedulerPeer(), { type: 'task', digest: missing, registry: registry.host, repository: REPOSITORY });
    expect(answer).toEqual({ type: 'back-to-source', reason: 'origin answered 404' });
  });

  it('blocklists a parent reported corrupt and never hands it out again for that blob', async () => {
    const [a, b, c] = [await client(), await client(), await client()];
    const ask = (node: P2PNode) =>
      schedCall(node, schedulerPeer(), { type: 'task', digest: BLOB_DIGEST, registry: registry.host, repository: REPOSITORY });
    await ask(a);
    const all = Array.from({ length: 6 }, (_, i) => i);
    await schedCall(a, schedulerPeer(), { type: 'report', digest: BLOB_DIGEST, finished: all, failed: [] }, { pieceCount: 6 });
    const beforeB = await ask(b);
    if (beforeB.type !== 'task-assigned') throw new Error('expected task-assigned');
    expect(beforeB.parents.map((p) => p.peerId)).toContain(a.peerId.toString());

    await schedCall(b, schedulerPeer(), {
      type: 'report',
      digest: BLOB_DIGEST,
      finished: [],
      failed: [{ index: 2, peer: a.peerId.toString(), reason: 'corrupt' }],
    }, { pieceCount: 6 });
    for (const node of [b, c]) {
      const answer = await ask(node);
      if (answer.type !== 'task-assigned') throw new Error('expected task-assigned');
      expect(answer.parents.map((p) => p.peerId)).not.toContain(a.peerId.toString());
    }
    expect(logLines.find((l) => l.msg === 'peer blocklisted')).toMatchObject({ digest: BLOB_DIGEST, peer: a.peerId.toString() });

    const view = (await (await fetch(`http://${scheduler.httpAddress}/tasks`)).json()) as {
      tasks: { digest: string; blocklist: string[]; peers: { peerId: string; complete: boolean }[] }[];
    };
    const task = view.tasks.find((t) => t.digest === BLOB_DIGEST)!;
    expect(task.blocklist).toEqual([a.peerId.toString()]);
    expect(task.peers.find((p) => p.peerId === a.peerId.toString())?.complete).toBe(true);
  });

  it('answers /healthz and /hosts', async () => {
    const health = await fetch(`http://${scheduler.httpAddress}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const hosts = (await (await fetch(`http://${scheduler.httpAddress}/hosts`)).json()) as { hosts: { peerId: string }[] };
    expect(hosts.hosts.length).toBeGreaterThanOrEqual(6);
    expect((await fetch(`http://${scheduler.httpAddress}/nope`)).status).toBe(404);
  });

  it('after a restart keeps its peer id, serves seeded blobs from its store and accepts daemons that do not re-register', async () => {
    const node = await client();
    const { peerId } = scheduler;
    await scheduler.stop();
    scheduler = await startScheduler({ ...config, p2pListen: '/ip4/127.0.0.1/tcp/0' }, logger);
    expect(scheduler.peerId).toBe(peerId);
    // The daemon still believes it is registered: its first call after the restart is a task.
    const task = await schedCall(node, schedulerPeer(), { type: 'task', digest: BLOB_DIGEST, registry: registry.host, repository: REPOSITORY });
    if (task.type !== 'task-assigned') throw new Error(`expected task-assigned, got ${JSON.stringify(task)}`);
    expect(task.meta.pieceDigests.every((d) => d !== null)).toBe(true);
    expect(blobGets()).toHaveLength(1);
    // Its addresses come from identify, so other daemons can be told to fetch from it.
    const addresses = async () => {
      const view = (await (await fetch(`http://${scheduler.httpAddress}/hosts`)).json()) as { hosts: { peerId: string; addresses: string[] }[] };
      return view.hosts.find((h) => h.peerId === node.peerId.toString())?.addresses;
    };
    const expected = node.getMultiaddrs().map((a) => a.decapsulate('/p2p').toString());
    expect(await waitFor(async () => ((await addresses())?.length ? addresses() : undefined), 5_000)).toEqual(expected);
  });
});
