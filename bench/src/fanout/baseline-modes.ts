import { startRegistry } from '@flotilla/test';
import { startThrottleProxyProcess } from './throttle-proxy-process.ts';
import { pidOf, registryEndpoint, type Topology, type TopologyContext } from './topology.ts';

/**
 * direct: every node pulls from the origin. The proxy in front of it is the origin's uplink (one bucket shared by
 * all) with one listener per node, each the node's own downlink.
 */
export async function startDirect(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, linkRate } = ctx;
  const proxy = await scope.start(startThrottleProxyProcess({ target: origin.host, egressRate: linkRate, linkRates: Array(nodes).fill(linkRate) }));
  return {
    endpoints: proxy.linkHosts.map((host) => registryEndpoint(`http://${host}`, image.repository)),
    roles: { origin: [pidOf(origin.service, 'origin')], 'throttle proxy': [pidOf(proxy.service, 'throttle proxy')] },
    originEgressBytes: async () => (await proxy.stats()).egressBytes,
    // The origin is the only way in: every verified blob byte came from it.
    sources: async () => ({ bytesFromOrigin: image.bytes, bytesFromSeed: 0, bytesFromPeers: 0 }),
    services: { origin: origin.service, 'throttle-proxy': proxy.service },
  };
}

/**
 * central: every node pulls through one docker-registry pull-through cache (proxy.remoteurl, the seeds' registry
 * mirror setup). The mirror reaches the origin through the origin's uplink; its own uplink is shared by the nodes,
 * each behind its own downlink.
 */
export async function startCentral(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, linkRate } = ctx;
  const originProxy = await scope.start(startThrottleProxyProcess({ target: origin.host, egressRate: linkRate, linkRates: [0] }));
  const mirror = await scope.start(startRegistry({ proxyRemoteUrl: `http://${originProxy.linkHosts[0]}`, accessLog: false }));
  const mirrorProxy = await scope.start(startThrottleProxyProcess({ target: mirror.host, egressRate: linkRate, linkRates: Array(nodes).fill(linkRate) }));
  return {
    endpoints: mirrorProxy.linkHosts.map((host) => registryEndpoint(`http://${host}`, image.repository)),
    roles: {
      origin: [pidOf(origin.service, 'origin')],
      'central mirror': [pidOf(mirror.service, 'central mirror')],
      'throttle proxy': [pidOf(originProxy.service, 'origin proxy'), pidOf(mirrorProxy.service, 'mirror proxy')],
    },
    originEgressBytes: async () => (await originProxy.stats()).egressBytes,
    // Nodes reach only the mirror: every verified blob byte came from it (reported as the seed).
    sources: async () => ({ bytesFromOrigin: 0, bytesFromSeed: image.bytes, bytesFromPeers: 0 }),
    services: { origin: origin.service, 'origin-proxy': originProxy.service, 'central-mirror': mirror.service, 'mirror-proxy': mirrorProxy.service },
  };
}
