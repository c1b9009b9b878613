import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@flotilla/log';
import { digestOf } from '@flotilla/oci';
import { TestNetwork } from '@flotilla/p2p/testing';
import { pushBlob, startRegistry, waitFor, type Registry } from '@flotilla/test';
import { pieceMeta, schedCall, verifyTaskMeta, type MetaSignature } from '@flotilla/wire';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSchedulerConfig, startScheduler, type RunningScheduler } from '../src/index.ts';

const REPOSITORY = 'flotilla/signed';
const BLOB = randomBytes(3 * 2 ** 20 + 77);
const DIGEST = digestOf(BLOB);

describe('task meta signed by the seeding scheduler', () => {
  let registry: Registry;
  let scheduler: RunningScheduler;
  let dataDir: string;
  let net: TestNetwork;

  beforeAll(async () => {
    registry = await startRegistry();
    await pushBlob(registry, REPOSITORY, BLOB);
    dataDir = await mkdtemp(join(tmpdir(), 'flotilla-scheduler-signed-'));
    const config = loadSchedulerConfig(
      ['--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--http-listen', '127.0.0.1:0', '--data-dir', dataDir, '--insecure-registry', registry.host],
      {},
    );
    scheduler = await startScheduler(config, silentLogger());
    net = await TestNetwork.create();
  });
  afterAll(async () => {
    await net?.stop();
    await scheduler?.stop();
    await registry?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const address = () => multiaddr(scheduler.p2pAddresses[0]!);
  const task = { type: 'task', digest: DIGEST, registry: '', repository: REPOSITORY } as const;

  it('reaches the first child in a report-ack and later children in the assignment; the seed answers meta with it', async () => {
    const first = await net.node();
    const assigned = await schedCall(first, address(), { ...task, registry: registry.host });
    if (assigned.type !== 'task-assigned') throw new Error(`expected task-assigned, got ${JSON.stringify(assigned)}`);
    const digests = [...assigned.meta.pieceDigests];
    let signature: MetaSignature | undefined = assigned.signature;
    await waitFor(async () => {
      if (signature) return true;
      const ack = await schedCall(first, address(), { type: 'report', digest: DIGEST, finished: [], failed: [] }, { pieceCount: assigned.meta.pieceCount });
      if (ack.type !== 'report-ack') throw new Error('expected report-ack');
      ack.pieceDigests?.digests.forEach((d, i) => (digests[ack.pieceDigests!.from + i] = d));
      signature = ack.signature;
      return signature !== undefined;
    }, 10_000);
    const meta = { ...assigned.meta, pieceDigests: digests };
    expect(signature!.signer).toBe(scheduler.peerId);
    expect(await verifyTaskMeta(meta, signature!)).toBe(true);

    // Sent once: the next ack has no signature.
    const again = await schedCall(first, address(), { type: 'report', digest: DIGEST, finished: [0], failed: [] }, { pieceCount: meta.pieceCount });
    expect(again.type === 'report-ack' && again.signature).toBeFalsy();

    const later = await net.node();
    const second = await schedCall(later, address(), { ...task, registry: registry.host });
    if (second.type !== 'task-assigned') throw new Error('expected task-assigned');
    expect(second.signature).toEqual(signature);
    expect(second.meta).toEqual(meta);

    const fromSeed = await pieceMeta(later, peerIdFromString(scheduler.peerId), DIGEST);
    expect(fromSeed).toEqual({ type: 'blob-meta', size: BLOB.byteLength, signed: { meta, signature } });
  });
});
