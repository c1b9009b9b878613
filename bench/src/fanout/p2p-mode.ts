import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flotillaCommand, prefixedCommand, startService, type Service } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import { registryEndpoint } from './client.ts';
import type { HostPlacement } from './links.ts';
import { daemonSources, inBatches, READY_TIMEOUT_MS, startSwarmDaemon, STARTING_AT_ONCE, waitForLog } from './swarm-daemons.ts';
import { pidOf, type Topology, type TopologyContext } from './topology.ts';

/**
 * p2p: origin + scheduler (the seed, on the seed host) + N daemons. Under ratelimit the scheduler's seed and every
 * daemon keep to the link rate with their own --upload-rate / --download-rate; under netns the kernel shapes. Each
 * node's client pulls from its own daemon over the node's loopback, its local connection.
 */
export async function startP2P(ctx: TopologyContext): Promise<Topology> {
  const { scope, origin, image, nodes, link } = ctx;
  const originLink = await link.startUplink(scope, { host: 'origin', target: origin.host, nodeLinks: 0 });
  const originHost = originLink.hostFor();
  const scheduler = await startScheduler(scope, link.seed, [...link.rateFlags, '--insecure-registry', originHost]);
  const daemons = await inBatches(nodes, STARTING_AT_ONCE, async (i) => {
    const node = link.node(i);
    const args = ['--p2p-listen', `/ip4/${node.ip}/tcp/0`, '--scheduler', scheduler.address, '--insecure-registry', originHost, ...link.rateFlags];
    const daemon = await startSwarmDaemon(scope, args, node.commandPrefix);
    await waitForLog(daemon, 'registered with the scheduler');
    return daemon;
  });
  let killed = false;
  const killAt = ctx.killSchedulerAtPercent === undefined ? undefined : ctx.killSchedulerAtPercent / 100;
  return {
    onDelivered(share) {
      if (killAt === undefined || killed || share < killAt) return;
      killed = true;
      void scheduler.service.kill();
    },
    endpoints: daemons.map((daemon) => registryEndpoint(daemon.host, image.repository, originHost)),
    roles: {
      origin: [pidOf(origin.service, 'origin')],
      [link.proxyRole]: [pidOf(originLink.service, link.proxyRole)],
      scheduler: [pidOf(scheduler.service, 'scheduler')],
      daemons: daemons.map((daemon) => pidOf(daemon.service, 'daemon')),
    },
    originEgressBytes: originLink.egressBytes,
    sources: (index) => daemonSources(daemons[index]!, image),
    services: {
      origin: origin.service,
      'origin-proxy': originLink.service,
      scheduler: scheduler.service,
      ...Object.fromEntries(daemons.map((daemon, i) => [`daemon-${i}`, daemon.service])),
    },
  };
}

/** `flotilla scheduler` on the seed host with a fresh data dir, removed when the scope stops. */
async function startScheduler(scope: Cleanup, host: HostPlacement, extraArgs: string[]): Promise<{ service: Service; address: string }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'flotilla-bench-scheduler-'));
  scope.add(() => rm(dataDir, { recursive: true, force: true }));
  const flotilla = flotillaCommand([
    'scheduler',
    '--p2p-listen', `/ip4/${host.ip}/tcp/0`,
    '--http-listen', '127.0.0.1:0',
    '--data-dir', dataDir,
    ...extraArgs,
  ]);
  const { command, args } = prefixedCommand(host.commandPrefix, flotilla.command, flotilla.args);
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
