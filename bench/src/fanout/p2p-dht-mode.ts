import { startThrottleProxyProcess } from './throttle-proxy-process.ts';
import { daemonSources, inBatches, STARTING_AT_ONCE, startSwarmDaemon, waitForLog, type SwarmDaemon } from './swarm-daemons.ts';
import { pidOf, registryEndpoint, type Topology, type TopologyContext } from './topology.ts';

/**
 * p2p-dht: origin + N daemons, no scheduler and so no seed. Each daemon joins the daemons' private DHT through one
 * or two daemons already running (daemon 0, and the last one of the previous start batch); a miss looks for
 * providers there for --dht-lookup-timeout and otherwise goes to the origin. Links as in p2p: the origin's uplink is
 * the throttle proxy's bucket, every daemon keeps to the link rate with its own --upload-rate / --download-rate.
 */
export async function startP2PDht(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, linkRate } = ctx;
  const originProxy = await scope.start(startThrottleProxyProcess({ target: origin.host, egressRate: linkRate, linkRates: [0] }));
  const originHost = originProxy.linkHosts[0]!;
  const daemonArgs = [
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0',
    '--insecure-registry', originHost,
    '--upload-rate', String(linkRate),
    '--download-rate', String(linkRate),
  ];
  const first = await startSwarmDaemon(scope, daemonArgs);
  const daemons: SwarmDaemon[] = [first];
  while (daemons.length < nodes) {
    const bootstrap = [...new Set([first.p2pAddress, daemons.at(-1)!.p2pAddress])].flatMap((address) => ['--bootstrap', address]);
    const batch = await inBatches(Math.min(STARTING_AT_ONCE, nodes - daemons.length), STARTING_AT_ONCE, () =>
      startSwarmDaemon(scope, [...daemonArgs, ...bootstrap]),
    );
    daemons.push(...batch);
  }
  // Until its DHT has found peers a daemon's lookups find nothing: a run must not start before that.
  if (nodes > 1) await Promise.all(daemons.map((daemon) => waitForLog(daemon, 'dht ready')));
  const ns = `?ns=${encodeURIComponent(originHost)}`;
  return {
    endpoints: daemons.map((daemon) => registryEndpoint(daemon.url, image.repository, ns)),
    roles: {
      origin: [pidOf(origin.service, 'origin')],
      'throttle proxy': [pidOf(originProxy.service, 'throttle proxy')],
      daemons: daemons.map((daemon) => pidOf(daemon.service, 'daemon')),
    },
    originEgressBytes: async () => (await originProxy.stats()).egressBytes,
    sources: (index) => daemonSources(daemons[index]!, image),
    services: {
      origin: origin.service,
      'origin-proxy': originProxy.service,
      ...Object.fromEntries(daemons.map((daemon, i) => [`daemon-${i}`, daemon.service])),
    },
  };
}
