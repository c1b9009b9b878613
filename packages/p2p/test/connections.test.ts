import { waitFor } from '@flotilla/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestNetwork } from '../src/testing.ts';

describe('connection limits on one subnet', () => {
  let net: TestNetwork;
  beforeAll(async () => {
    net = await TestNetwork.create();
  });
  afterAll(async () => {
    await net.stop();
  });

  it('accepts 8 nodes dialing one node from 127.0.0.1 at once (no per-IP rate limit)', async () => {
    const hub = await net.node();
    const spokes = await Promise.all(Array.from({ length: 8 }, () => net.node()));
    await Promise.all(spokes.map((spoke) => spoke.dial(hub.getMultiaddrs(), { signal: AbortSignal.timeout(10_000) })));

    // The dialer can finish its upgrade a moment before the listener registers the connection.
    const expected = new Set(spokes.map((spoke) => spoke.peerId.toString()));
    const connected = await waitFor(() => {
      const peers = new Set(hub.getConnections().map((c) => c.remotePeer.toString()));
      return peers.size >= expected.size ? peers : undefined;
    }, 5_000);
    expect(connected).toEqual(expected);
    for (const spoke of spokes) {
      const rtt = await spoke.services.ping.ping(hub.peerId, { signal: AbortSignal.timeout(5_000) });
      expect(rtt).toBeGreaterThanOrEqual(0);
    }
  });
});
