import { join } from 'node:path';
import { parseDigest } from '@flotilla/oci';
import { Bootstrapper, contentKey, loadOrCreateIdentity, type P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { waitFor } from '@flotilla/test';
import { handlePiece, signTaskMeta, type BlobMetaResponse, type SignedTaskMeta } from '@flotilla/wire';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DhtPlanner } from '../src/swarm/dht-plan.ts';
import { PeerHealth } from '../src/swarm/peer-health.ts';
import { ProviderLookup } from '../src/swarm/provider-lookup.ts';
import { TrustedSchedulers } from '../src/swarm/trust.ts';
import { capturingLogger, makeBlob } from './swarm-support.ts';

const blob = makeBlob(3 * 1024 * 1024 + 10);

/** The blob's meta signed with the key `name` (a scheduler's, trusted or not). */
async function signedBy(dir: string, name: string, meta = blob.meta): Promise<SignedTaskMeta> {
  const key = await loadOrCreateIdentity(join(dir, `${name}.key`));
  const signer = peerIdFromPrivateKey(key).toString();
  return { meta: { ...meta, pieceDigests: meta.pieceDigests as string[] }, signature: await signTaskMeta(meta, key, signer) };
}

describe('DHT plan: providers and their meta', () => {
  let net: TestNetwork;
  let seeker: P2PNode;
  const bootstrappers: Bootstrapper[] = [];

  beforeAll(async () => {
    net = await TestNetwork.create();
    seeker = await net.node({ dht: {} });
  });
  afterAll(async () => {
    await Promise.all(bootstrappers.map((b) => b.stop()));
    await net.stop();
  });

  /** A node that provides the blob and answers `meta` with `reply`. */
  async function provider(reply: BlobMetaResponse): Promise<P2PNode> {
    const node = await net.node({ dht: {} });
    await handlePiece(node, { get: async () => ({ type: 'missing' }), watch: async function* () {}, meta: async () => reply });
    const bootstrapper = new Bootstrapper({ node: seeker, targets: node.getMultiaddrs().map(String), logger: capturingLogger().logger });
    bootstrapper.start();
    bootstrappers.push(bootstrapper);
    await waitFor(() => node.services.dht!.routingTable.size > 0, 5_000);
    await node.contentRouting.provide(contentKey(parseDigest(blob.digest)), { signal: AbortSignal.timeout(5_000) });
    return node;
  }

  function planner(trusted: string[]) {
    const { logger, lines } = capturingLogger();
    const health = new PeerHealth();
    const lookup = new ProviderLookup({ node: seeker, timeoutMs: 200, health, logger });
    const trust = new TrustedSchedulers({ trusted, schedulerAddresses: [], connected: () => [] });
    return { plan: new DhtPlanner({ node: seeker, lookup, trust, health, logger }), lines, health };
  }

  const request = { registry: '127.0.0.1:9', repository: 'test/blob', digest: parseDigest(blob.digest), signal: new AbortController().signal };

  it('uses the digests of meta signed by a trusted scheduler; meta signed by another key is rejected and the blob verified whole', async () => {
    const good = await signedBy(net.dir, 'trusted-scheduler');
    // A rogue signer vouches for digests of other bytes.
    const forged = await signedBy(net.dir, 'rogue', makeBlob(blob.bytes.length).meta);
    const rogue = await signedBy(net.dir, 'rogue', { ...forged.meta, digest: blob.digest });
    const holder = await provider({ type: 'blob-meta', size: blob.meta.size, signed: rogue });

    const untrusting = planner([good.signature.signer]);
    const whole = await waitFor(() => untrusting.plan.plan(request), 5_000);
    expect(whole.verifyWhole).toBe(true);
    expect(whole.assignment.meta.pieceDigests.every((d) => d === null)).toBe(true);
    expect(whole.assignment.parents.map((p) => p.peerId)).toEqual([holder.peerId.toString()]);
    expect(untrusting.lines.find((l) => l.msg === 'task meta rejected')).toMatchObject({ signer: rogue.signature.signer, peer: holder.peerId.toString() });

    const trusting = planner([rogue.signature.signer]);
    const verified = await trusting.plan.plan(request);
    expect(verified?.verifyWhole).toBe(false);
    expect(verified?.assignment.meta.pieceDigests).toEqual(rogue.meta.pieceDigests);
  });

  it('skips a provider that cannot be reached and marks it, without waiting', async () => {
    const dead = await provider({ type: 'blob-meta', size: blob.meta.size });
    const deadId = dead.peerId.toString();
    await dead.stop();
    const { plan, lines, health } = planner([]);
    const started = performance.now();
    const result = await plan.plan(request);
    expect(result?.assignment.parents.map((p) => p.peerId) ?? []).not.toContain(deadId);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(health.isBad(deadId)).toBe(true);
    expect(lines.some((l) => l.msg === 'provider unreachable; skipped' && l.peer === deadId)).toBe(true);
  });
});
