import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@flotilla/log';
import { digestOf } from '@flotilla/oci';
import { loadOrCreateIdentity } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { pushBlob, registryRequests, startRegistry, type Registry } from '@flotilla/test';
import { choosePieceLength, pieceCountFor, pieceRange, schedCall, signTaskMeta, type SignedTaskMeta } from '@flotilla/wire';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchedulerConfig, startScheduler, type RunningScheduler } from '../src/index.ts';

const REPOSITORY = 'flotilla/held';
const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** The blob's complete meta signed with the key in `keyFile`. */
async function signed(bytes: Buffer, keyFile: string): Promise<SignedTaskMeta> {
  const size = bytes.byteLength;
  const pieceLength = choosePieceLength(size);
  const pieceCount = pieceCountFor(size, pieceLength);
  const pieceDigests = Array.from({ length: pieceCount }, (_, i) => {
    const { start, end } = pieceRange(i, size, pieceLength);
    return sha256(bytes.subarray(start, end));
  });
  const meta = { digest: digestOf(bytes), size, pieceLength, pieceCount, pieceDigests };
  const key = await loadOrCreateIdentity(keyFile);
  return { meta, signature: await signTaskMeta(meta, key, peerIdFromPrivateKey(key).toString()) };
}

describe('holdings reported by daemons', () => {
  let registry: Registry;
  let scheduler: RunningScheduler;
  let dir: string;
  let net: TestNetwork;
  let trustedKey: string;

  beforeAll(async () => {
    registry = await startRegistry();
    dir = await mkdtemp(join(tmpdir(), 'flotilla-holdings-'));
    net = await TestNetwork.create();
    trustedKey = join(dir, 'other-scheduler.key');
    const other = peerIdFromPrivateKey(await loadOrCreateIdentity(trustedKey)).toString();
    const config = loadSchedulerConfig(
      ['--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--http-listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--insecure-registry', registry.host, '--trust-scheduler', other],
      {},
    );
    scheduler = await startScheduler(config, silentLogger());
  });
  afterAll(async () => {
    await net?.stop();
    await scheduler?.stop();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const address = () => multiaddr(scheduler.p2pAddresses[0]!);

  async function registered() {
    const node = await net.node();
    await schedCall(node, address(), { type: 'register', addresses: node.getMultiaddrs().map(String), uploadSlots: 10 });
    return node;
  }

  it('a holder of meta signed by a trusted scheduler becomes the parent of the next child, and the origin is not asked', async () => {
    const bytes = randomBytes(2 * 1024 * 1024 + 3);
    const digest = await pushBlob(registry, REPOSITORY, bytes);
    const holder = await registered();
    expect(await schedCall(holder, address(), { type: 'holding', blobs: [{ digest, size: bytes.byteLength, signed: await signed(bytes, trustedKey) }] })).toEqual({ type: 'ok' });

    const child = await registered();
    const answer = await schedCall(child, address(), { type: 'task', digest, registry: registry.host, repository: REPOSITORY });
    if (answer.type !== 'task-assigned') throw new Error(`expected task-assigned, got ${JSON.stringify(answer)}`);
    expect(answer.parents.map((p) => p.peerId)).toEqual([holder.peerId.toString()]); // not the scheduler: it has no bytes
    expect(answer.meta.pieceDigests.every((d) => d !== null)).toBe(true);
    expect(answer.signature?.signer).toBeDefined();
    expect(registryRequests(registry).filter((r) => r.path.includes(digest))).toHaveLength(0);
  });

  it('meta signed by a key it does not trust is not taken: the blob is seeded from the origin as usual', async () => {
    const bytes = randomBytes(1024 * 1024);
    const digest = await pushBlob(registry, REPOSITORY, bytes);
    const holder = await registered();
    await schedCall(holder, address(), { type: 'holding', blobs: [{ digest, size: bytes.byteLength, signed: await signed(bytes, join(dir, 'rogue.key')) }] });

    const child = await registered();
    const answer = await schedCall(child, address(), { type: 'task', digest, registry: registry.host, repository: REPOSITORY });
    if (answer.type !== 'task-assigned') throw new Error('expected task-assigned');
    expect(answer.parents.map((p) => p.peerId)).toEqual([scheduler.peerId]);
    expect(registryRequests(registry).filter((r) => r.method === 'GET' && r.path.includes(`/blobs/${digest}`))).toHaveLength(1);
  });
});
