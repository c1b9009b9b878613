import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { silentLogger } from '@flotilla/log';
import { freePort, waitFor } from '@flotilla/test';
import { CID } from 'multiformats/cid';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Bootstrapper, type HostLookup } from '../src/bootstrap.ts';
import { contentKey, DHT_PROTOCOL } from '../src/dht.ts';
import type { P2PNode } from '../src/node.ts';
import { TestNetwork } from '../src/testing.ts';

function keyOf(text: string): CID {
  return contentKey({ algorithm: 'sha256', hex: createHash('sha256').update(text).digest('hex') });
}

/** Providers of `key` found within `ms`, by peer id. */
async function providersOf(node: P2PNode, key: CID, ms = 2_000): Promise<string[]> {
  const found = new Set<string>();
  try {
    for await (const event of node.services.dht!.findProviders(key, { signal: AbortSignal.timeout(ms) })) {
      if (event.name === 'PROVIDER') for (const p of event.providers) found.add(p.id.toString());
    }
  } catch {
    // the deadline ends the query
  }
  return [...found];
}

describe('private DHT', () => {
  let net: TestNetwork;
  const bootstrappers: Bootstrapper[] = [];

  function bootstrap(node: P2PNode, targets: string[], lookup?: HostLookup): Bootstrapper {
    const b = new Bootstrapper({ node, targets, logger: silentLogger(), minRetryMs: 100, maxRetryMs: 400, recheckMs: 500, ...(lookup ? { lookup } : {}) });
    b.start();
    bootstrappers.push(b);
    return b;
  }

  beforeAll(async () => {
    net = await TestNetwork.create();
  });
  afterEach(async () => {
    await Promise.all(bootstrappers.splice(0).map((b) => b.stop()));
  });
  afterAll(async () => {
    await net.stop();
  });

  it('content keys are CIDv1 raw over the digest multihash', () => {
    const hex = createHash('sha256').update('x').digest('hex');
    const key = contentKey({ algorithm: 'sha256', hex });
    expect(key.version).toBe(1);
    expect(key.code).toBe(0x55);
    expect(key.multihash.code).toBe(0x12);
    expect(Buffer.from(key.multihash.digest).toString('hex')).toBe(hex);
  });

  it('nodes bootstrapped only to one hub find each other\'s provider records', async () => {
    const hub = await net.node({ dht: {} });
    const spokes = await Promise.all(Array.from({ length: 4 }, () => net.node({ dht: {} })));
    for (const spoke of spokes) bootstrap(spoke, hub.getMultiaddrs().map(String));
    expect(await hub.peerStore.get(hub.peerId).then((p) => p.protocols)).toContain(DHT_PROTOCOL);
    await waitFor(() => spokes.every((s) => s.services.dht!.routingTable.size > 0), 10_000);

    const key = keyOf('blob-1');
    await spokes[0]!.contentRouting.provide(key, { signal: AbortSignal.timeout(5_000) });
    for (const spoke of spokes.slice(1)) {
      const providers = await waitFor(async () => {
        const found = await providersOf(spoke, key, 500);
        return found.length > 0 ? found : undefined;
      }, 5_000);
      expect(providers).toEqual([spokes[0]!.peerId.toString()]);
    }
  });

  it('keeps dialing a bootstrap peer that starts later, and finds it again after it restarts', async () => {
    const port = await freePort();
    const listen = [`/ip4/127.0.0.1/tcp/${port}`];
    const early = await net.node({ dht: {} });
    bootstrap(early, listen);
    await new Promise((r) => setTimeout(r, 300)); // a failed dial or two first
    const identityFile = join(net.dir, 'late.key');
    const late = await net.node({ dht: {}, listen, identityFile });
    await waitFor(() => early.getConnections(late.peerId).length > 0, 5_000);

    await late.stop();
    await waitFor(() => early.getConnections(late.peerId).length === 0, 5_000);
    const restarted = await net.node({ dht: {}, listen, identityFile });
    expect(restarted.peerId.toString()).toBe(late.peerId.toString());
    await waitFor(() => early.getConnections(restarted.peerId).length > 0, 5_000);
  });

  it('a name that resolves to several addresses bootstraps to all of them', async () => {
    const port = await freePort();
    const [a, b] = await Promise.all(['127.0.0.2', '127.0.0.3'].map((ip) => net.node({ dht: {}, listen: [`/ip4/${ip}/tcp/${port}`] })));
    const asked: string[] = [];
    const lookup: HostLookup = async (host) => {
      asked.push(host);
      return [{ address: '127.0.0.2', family: 4 }, { address: '127.0.0.3', family: 4 }];
    };
    const node = await net.node({ dht: {} });
    bootstrap(node, [`/dns4/peers.cluster.test/tcp/${port}`], lookup);
    await waitFor(() => node.getConnections(a!.peerId).length > 0 && node.getConnections(b!.peerId).length > 0, 5_000);
    expect(asked[0]).toBe('peers.cluster.test');
  });
});
