import { registryEndpoint } from './client.ts';
import { daemonSources, inBatches, STARTING_AT_ONCE, startSwarmDaemon, waitForLog, type SwarmDaemon } from './swarm-daemons.ts';
import { pidOf, type Topology, type TopologyContext } from './topology.ts';

/**
 * p2p-dht: origin + N daemons, no scheduler and so no seed. Each daemon joins the daemons' private DHT through one
 * or two daemons already running (daemon 0, and the last one of the previous start batch); a miss looks for
 * providers there for --dht-lookup-timeout and otherwise goes to the origin. Links as in p2p.
 */
export async function startP2PDht(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, link } = ctx;
  const originLink = await link.startUplink(scope, { host: 'origin', target: origin.host, nodeLinks: 0 });
  const originHost = originLink.hostFor();
  const startDaemon = (index: number, bootstrap: string[]) => {
    const node = link.node(index);
    const args = ['--p2p-listen', `/ip4/${node.ip}/tcp/0`, '--insecure-registry', originHost, ...link.rateFlags];
    return startSwarmDaemon(scope, [...args, ...bootstrap.flatMap((address) => ['--bootstrap', address])], node.commandPrefix);
  };
  const first = await startDaemon(0, []);
  const daemons: SwarmDaemon[] = [first];
  while (daemons.length < nodes) {
    const bootstrap = [...new Set([first.p2pAddress, daemons.at(-1)!.p2pAddress])];
    const started = daemons.length;
    daemons.push(...(await inBatches(Math.min(STARTING_AT_ONCE, nodes - started), STARTING_AT_ONCE, (k) => startDaemon(started + k, bootstrap))));
  }
  // Until its DHT has found peers a daemon's lookups find nothing: a run must not start before that.
  if (nodes > 1) await Promise.all(daemons.map((daemon) => waitForLog(daemon, 'dht ready')));
  return {
    endpoints: daemons.map((daemon) => registryEndpoint(daemon.host, image.repository, originHost)),
    roles: {
      origin: [pidOf(origin.service, 'origin')],
      [link.proxyRole]: [pidOf(originLink.service, link.proxyRole)],
      daemons: daemons.map((daemon) => pidOf(daemon.service, 'daemon')),
    },
    originEgressBytes: originLink.egressBytes,
    sources: (index) => daemonSources(daemons[index]!, image),
    services: {
      origin: origin.service,
      'origin-proxy': originLink.service,
      ...Object.fromEntries(daemons.map((daemon, i) => [`daemon-${i}`, daemon.service])),
    },
  };
}
