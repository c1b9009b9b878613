import { randomBytes } from 'node:crypto';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '@flotilla/log';
import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { pushBlob, registryRequests, startRegistry, waitFor, type Registry } from '@flotilla/test';
import { pieceGet, pieceWatch, schedCall, type SchedRequest } from '@flotilla/wire';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchedulerConfig, startScheduler, type RunningScheduler } from '../src/index.ts';

/** Long enough for a test's calls to land well inside it on a loaded machine, short enough to watch expiry. */
const HOST_TTL_MS = 1500;
const UPLOAD_RATE = 2 * 2 ** 20;

/** Parents, failures, expiry and upload limits, against a scheduler with one upload slot and a short host TTL. */
describe('scheduler swarm bookkeeping', () => {
  let registry: Registry;
  let scheduler: RunningScheduler;
  let dataDir: string;
  let net: TestNetwork;
  const logLines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    registry = await startRegistry();
    dataDir = await mkdtemp(join(tmpdir(), 'flotilla-scheduler-'));
    const config = loadSchedulerConfig(
      [
        ...['--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--http-listen', '127.0.0.1:0', '--data-dir', dataDir],
        ...['--insecure-registry', registry.host, '--host-ttl', `${HOST_TTL_MS}ms`, '--upload-slots', '1', '--upload-rate', String(UPLOAD_RATE)],
      ],
      {},
    );
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n')) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
        done();
      },
    });
    scheduler = await startScheduler(config, createLogger({ name: 'scheduler', destination: sink }));
    net = await TestNetwork.create();
  });

  afterAll(async () => {
    await net?.stop();
    await scheduler?.stop();
    await registry?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const schedulerAddress = () => multiaddr(scheduler.p2pAddresses[0]!);
  const schedulerPeer = () => peerIdFromString(scheduler.peerId);
  const call = <R extends SchedRequest>(node: P2PNode, request: R) => schedCall(node, schedulerAddress(), request, { pieceCount: 8192 });

  async function client(): Promise<P2PNode> {
    const node = await net.node();
    await call(node, { type: 'register', addresses: node.getMultiaddrs().map(String), uploadSlots: 10 });
    return node;
  }

  /** Pushes a blob and has a first client ask for it and watch the seed until it has every piece. */
  async function seeded(repository: string, size: number): Promise<{ digest: string; first: P2PNode }> {
    const digest = await pushBlob(registry, repository, randomBytes(size));
    const node = await client();
    const task = await call(node, { type: 'task', digest, registry: registry.host, repository });
    if (task.type !== 'task-assigned') throw new Error(`expected task-assigned, got ${JSON.stringify(task)}`);
    for await (const have of pieceWatch(node, schedulerPeer(), { digest, pieceCount: task.meta.pieceCount })) if (have.complete) break;
    await call(node, { type: 'report', digest, finished: [], failed: [] }); // any call keeps the host alive
    return { digest, first: node };
  }

  const parentIds = (answer: { type: string; parents?: { peerId: string }[] }) => answer.parents?.map((p) => p.peerId) ?? [];

  it('hands early children more parents in report-acks as other peers join', async () => {
    const { digest, first } = await seeded('swarm/grow', 3 * 2 ** 20);
    const [a, b] = [await client(), await client()];
    const ids = (...nodes: P2PNode[]) => [scheduler.peerId, ...nodes.map((n) => n.peerId.toString())].sort();
    const task = (node: P2PNode) => call(node, { type: 'task', digest, registry: registry.host, repository: 'swarm/grow' });
    expect(parentIds(await task(a)).sort()).toEqual(ids(first));
    expect(parentIds(await task(b)).sort()).toEqual(ids(first, a));
    const ack = await call(a, { type: 'report', digest, finished: [], failed: [] });
    expect(parentIds(ack as { type: string }).sort()).toEqual(ids(first, b));
    // Nothing changed since: no new parents, so the child keeps its connections.
    expect((await call(a, { type: 'report', digest, finished: [0], failed: [] })) as object).not.toHaveProperty('parents');
    // A child that names its parents in reschedule does not get them back.
    const rescheduled = await call(b, { type: 'reschedule', digest, exclude: [a.peerId.toString()] });
    expect(parentIds(rescheduled as { type: string }).sort()).toEqual(ids(first));
    const none = await call(b, { type: 'reschedule', digest, exclude: [scheduler.peerId, first.peerId.toString()] });
    expect(none).toEqual({ type: 'back-to-source', reason: 'no parent left for this blob' });
  });

  it('names the seed\'s unfinished children in `swarm`, and tells a child again only when they change', async () => {
    const { digest, first } = await seeded('swarm/list', 2 * 2 ** 20);
    const [a, b] = [await client(), await client()];
    const id = (node: P2PNode) => node.peerId.toString();
    const task = (node: P2PNode) => call(node, { type: 'task', digest, registry: registry.host, repository: 'swarm/list' });
    const report = (node: P2PNode, finished: number[] = []) => call(node, { type: 'report', digest, finished, failed: [] });
    const swarmOf = (answer: object) => (answer as { swarm?: string[] }).swarm;
    expect(swarmOf(await task(a))).toEqual([id(first), id(a)]);
    expect(swarmOf(await report(a))).toBeUndefined();
    expect(swarmOf(await task(b))).toEqual([id(first), id(a), id(b)]);
    expect(swarmOf(await report(a))).toEqual([id(first), id(a), id(b)]);
    await report(first, [0, 1]); // finished: it fetches nothing more from the seed
    expect(swarmOf(await report(a))).toEqual([id(a), id(b)]);
    expect(swarmOf(await report(a))).toBeUndefined();
  });

  it('fetches a blob from the origin once when many daemons ask at the same moment', async () => {
    const repository = 'swarm/burst';
    const digest = await pushBlob(registry, repository, randomBytes(2 ** 20));
    const nodes = await Promise.all(Array.from({ length: 6 }, () => client()));
    const answers = await Promise.all(nodes.map((node) => call(node, { type: 'task', digest, registry: registry.host, repository })));
    expect(answers.map((a) => a.type)).toEqual(Array(6).fill('task-assigned'));
    await waitFor(() => logLines.find((l) => l.msg === 'task seeded' && l.digest === digest), 10_000);
    const gets = registryRequests(registry).filter((r) => r.method === 'GET' && r.path.endsWith(`/blobs/${digest}`));
    expect(gets).toHaveLength(1);
  });

  it('expires hosts that stop calling and no longer hands them out', async () => {
    const { digest, first } = await seeded('swarm/expire', 2 ** 20);
    const task = (node: P2PNode) => call(node, { type: 'task', digest, registry: registry.host, repository: 'swarm/expire' });
    const silent = await client();
    await task(silent);
    const hosts = async () =>
      ((await (await fetch(`http://${scheduler.httpAddress}/hosts`)).json()) as { hosts: { peerId: string }[] }).hosts.map((h) => h.peerId);
    expect(await hosts()).toContain(silent.peerId.toString());
    await waitFor(async () => !(await hosts()).includes(silent.peerId.toString()), 4 * HOST_TTL_MS);
    const late = await client();
    const parents = parentIds(await task(late));
    expect(parents).toContain(scheduler.peerId);
    expect(parents).not.toContain(silent.peerId.toString());
    expect(parents).not.toContain(first.peerId.toString());
    expect(logLines.some((l) => l.msg === 'peer removed' && l.peer === silent.peerId.toString() && l.why === 'host expired')).toBe(true);
  });

  it('answers busy beyond --upload-slots and paces uploads at --upload-rate', async () => {
    const { digest } = await seeded('swarm/slots', 2 * 2 ** 20);
    const [a, b] = [await client(), await client()];
    let firstChunk!: () => void;
    const uploading = new Promise<void>((resolve) => (firstChunk = resolve));
    let received = 0;
    const started = performance.now();
    const first = pieceGet(a, schedulerPeer(), { digest, index: 0 }, {
      expectedLength: 2 ** 20,
      onChunk: (chunk) => {
        received += chunk.byteLength;
        firstChunk();
      },
    });
    await uploading;
    // Busy, and when to come back: about the half second the first upload still needs.
    const busy = await pieceGet(b, schedulerPeer(), { digest, index: 1 }, { onChunk: () => {} });
    expect(busy).toMatchObject({ type: 'busy', retryAfterMs: expect.any(Number) });
    expect(await first).toEqual({ type: 'piece', index: 0, length: 2 ** 20 });
    expect(received).toBe(2 ** 20);
    // 1 MiB at 2 MiB/s, less the bucket's initial burst (a tenth of a second's worth).
    expect(performance.now() - started).toBeGreaterThan(350);
    expect((await pieceGet(b, schedulerPeer(), { digest, index: 1 }, { onChunk: () => {} })).type).toBe('piece');
    expect(await pieceGet(b, schedulerPeer(), { digest, index: 2 }, { onChunk: () => {} })).toEqual({ type: 'missing' });
  });

  it('fails the task when the origin body does not match its digest, and sends daemons back to the source', async () => {
    const repository = 'swarm/corrupt';
    const digest = await pushBlob(registry, repository, randomBytes(2 ** 20));
    const hex = digest.slice('sha256:'.length);
    await writeFile(join(registry.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data'), randomBytes(2 ** 20));
    const node = await client();
    const task = () => call(node, { type: 'task', digest, registry: registry.host, repository });
    // The size is known before the bytes are: the first answer hands out the seed.
    expect((await task()).type).toBe('task-assigned');
    await waitFor(() => logLines.find((l) => l.msg === 'seed failed' && l.digest === digest), 10_000);
    expect(await task()).toMatchObject({ type: 'back-to-source', reason: expect.stringMatching(/^seeding failed: .*digest mismatch/) });
    expect(await call(node, { type: 'report', digest, finished: [], failed: [] })).toMatchObject({ type: 'error', code: 'unknown-task' });
    const view = (await (await fetch(`http://${scheduler.httpAddress}/tasks`)).json()) as { tasks: { digest: string }[] };
    expect(view.tasks.map((t) => t.digest)).not.toContain(digest);
    await expect(access(join(dataDir, 'store/blobs/sha256', hex.slice(0, 2), hex))).rejects.toThrow(/ENOENT/);
  });
});
