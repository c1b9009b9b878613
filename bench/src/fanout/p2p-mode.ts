import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flotillaCommand, startService, type Service } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import { daemonSources, inBatches, READY_TIMEOUT_MS, startSwarmDaemon, STARTING_AT_ONCE, waitForLog } from './swarm-daemons.ts';
import { startThrottleProxyProcess } from './throttle-proxy-process.ts';
import { pidOf, registryEndpoint, type Topology, type TopologyContext } from './topology.ts';

/**
 * p2p: origin + scheduler + N daemons. The origin's uplink is the throttle proxy's shared bucket; the scheduler's
 * seed and every daemon keep to the link rate with their own --upload-rate / --download-rate. Each node's client
 * pulls from its own daemon over loopback, which stands for the node's local connection.
 */
export async function startP2P(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, linkRate } = ctx;
  const originProxy = await scope.start(startThrottleProxyProcess({ target: origin.host, egressRate: linkRate, linkRates: [0] }));
  const originHost = originProxy.linkHosts[0]!;
  const rates = ['--upload-rate', String(linkRate), '--download-rate', String(linkRate)];
  const scheduler = await startScheduler(scope, [...rates, '--insecure-registry', originHost]);
  const daemonArgs = ['--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--scheduler', scheduler.address, '--insecure-registry', originHost, ...rates];
  const daemons = await inBatches(nodes, STARTING_AT_ONCE, async () => {
    const daemon = await startSwarmDaemon(scope, daemonArgs);
    await waitForLog(daemon, 'registered with the scheduler');
    return daemon;
  });
  const ns = `?ns=${encodeURIComponent(originHost)}`;
  return {
    endpoints: daemons.map((daemon) => registryEndpoint(daemon.url, image.repository, ns)),
    roles: {
      origin: [pidOf(origin.service, 'origin')],
      'throttle proxy': [pidOf(originProxy.service, 'throttle proxy')],
      scheduler: [pidOf(scheduler.service, 'scheduler')],
      daemons: daemons.map((daemon) => pidOf(daemon.service, 'daemon')),
    },
    originEgressBytes: async () => (await originProxy.stats()).egressBytes,
    sources: (index) => daemonSources(daemons[index]!, image),
    services: {
      origin: origin.service,
      'origin-proxy': originProxy.service,
      scheduler: scheduler.service,
      ...Object.fromEntries(daemons.map((daemon, i) => [`daemon-${i}`, daemon.service])),
    },
  };
}

/** `flotilla scheduler` on loopback with a fresh data dir, removed when the scope stops. */
async function startScheduler(scope: Cleanup, extraArgs: string[]): Promise<{ service: Service; address: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'flotilla-bench-scheduler-'));
  scope.add(() => rm(dataDir, { recursive: true, force: true }));
  const { command, args } = flotillaCommand([
    'scheduler',
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0',
    '--http-listen', '127.0.0.1:0',
    '--data-dir', dataDir,
    ...extraArgs,
  ]);
  const started = await scope.start(
    startService(command, args, { ready: /^.*"msg":"scheduler listening".*$/m, readyTimeoutMs: READY_TIMEOUT_MS }).then(({ service, match }) => ({
      service,
      match,
      stop: () => service.stop(),
    })),
  );
  const address = (JSON.parse(started.match![0]) as { addresses?: string[] }).addresses?.[0];
  if (!address) throw new Error(`the scheduler's ready line names no address: ${started.match![0]}`);
  return { service: started.service, address };
}
