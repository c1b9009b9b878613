import { startRegistry } from '@flotilla/test';
import { registryEndpoint } from './client.ts';
import { pidOf, type Topology, type TopologyContext } from './topology.ts';

/**
 * direct: every node pulls from the origin, through the origin's uplink (one bucket shared by all under ratelimit,
 * with one listener per node standing for the node's own downlink).
 */
export async function startDirect(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, link } = ctx;
  const uplink = await link.startUplink(scope, { host: 'origin', target: origin.host, nodeLinks: nodes });
  return {
    endpoints: Array.from({ length: nodes }, (_, i) => registryEndpoint(uplink.hostFor(i), image.repository)),
    roles: { origin: [pidOf(origin.service, 'origin')], [link.proxyRole]: [pidOf(uplink.service, link.proxyRole)] },
    originEgressBytes: uplink.egressBytes,
    // The origin is the only way in: every verified blob byte came from it.
    sources: async () => ({ bytesFromOrigin: image.bytes, bytesFromSeed: 0, bytesFromPeers: 0 }),
    services: { origin: origin.service, 'origin-proxy': uplink.service },
  };
}

/**
 * central: every node pulls through one docker-registry pull-through cache (proxy.remoteurl, the seeds' registry
 * mirror setup) on the seed host. The mirror reaches the origin through the origin's uplink; its own uplink is
 * shared by the nodes, each behind its own downlink.
 */
export async function startCentral(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, link } = ctx;
  const originLink = await link.startUplink(scope, { host: 'origin', target: origin.host, nodeLinks: 0 });
  const mirror = await scope.start(
    startRegistry({ proxyRemoteUrl: `http://${originLink.hostFor()}`, accessLog: false, commandPrefix: link.seed.commandPrefix }),
  );
  const mirrorLink = await link.startUplink(scope, { host: 'seed', target: mirror.host, nodeLinks: nodes });
  return {
    endpoints: Array.from({ length: nodes }, (_, i) => registryEndpoint(mirrorLink.hostFor(i), image.repository)),
    roles: {
      origin: [pidOf(origin.service, 'origin')],
      'central mirror': [pidOf(mirror.service, 'central mirror')],
      [link.proxyRole]: [pidOf(originLink.service, 'origin proxy'), pidOf(mirrorLink.service, 'mirror proxy')],
    },
    originEgressBytes: originLink.egressBytes,
    // Nodes reach only the mirror: every verified blob byte came from it (reported as the seed).
    sources: async () => ({ bytesFromOrigin: 0, bytesFromSeed: image.bytes, bytesFromPeers: 0 }),
    services: { origin: origin.service, 'origin-proxy': originLink.service, 'central-mirror': mirror.service, 'mirror-proxy': mirrorLink.service },
  };
}
