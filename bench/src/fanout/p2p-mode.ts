import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flotillaCommand, startFlotillaDaemon, startService, waitFor, type FlotillaDaemon, type Service } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import type { BenchImage } from './image.ts';
import { startThrottleProxyProcess } from './throttle-proxy-process.ts';
import { outputTail, pidOf, registryEndpoint, type ByteSources, type Topology, type TopologyContext } from './topology.ts';

/** Daemons started at once: ten Node processes booting together on two cores would trip their ready timeouts. */
const STARTING_AT_ONCE = 4;
const READY_TIMEOUT_MS = 60_000;
/** How long a daemon may take to log a blob it has served as stored. */
const BLOB_LOG_TIMEOUT_MS = 10_000;

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
    const daemon = await scope.start(startFlotillaDaemon({ args: daemonArgs, readyTimeoutMs: READY_TIMEOUT_MS }));
    await waitFor(() => daemon.logs().some((line) => line.msg === 'registered with the scheduler'), READY_TIMEOUT_MS).catch(() => {
      throw new Error(`daemon ${daemon.host} did not register with the scheduler:\n${outputTail('daemon', daemon.service, 8)}`);
    });
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

/**
 * Bytes by source from the daemon's log: one "swarm download finished" line per blob the swarm delivered; a blob
 * without one came from the origin whole (the scheduler sent it back to the source or was unreachable).
 */
async function daemonSources(daemon: FlotillaDaemon, image: BenchImage): Promise<ByteSources> {
  const sources: ByteSources = { bytesFromOrigin: 0, bytesFromSeed: 0, bytesFromPeers: 0 };
  for (const blob of image.blobs) {
    const forBlob = () => daemon.logs().filter((line) => line['digest'] === blob.digest);
    // The last byte reaches the client right after the digest check; "blob stored" follows the commit.
    await waitFor(() => forBlob().some((line) => line.msg === 'blob stored'), BLOB_LOG_TIMEOUT_MS).catch(() => {
      throw new Error(`daemon ${daemon.host} served ${blob.digest} but logged no "blob stored" line within ${BLOB_LOG_TIMEOUT_MS} ms`);
    });
    const swarm = forBlob().find((line) => line.msg === 'swarm download finished');
    if (!swarm) {
      sources.bytesFromOrigin += blob.size;
      continue;
    }
    sources.bytesFromOrigin += Number(swarm['bytes_from_origin'] ?? 0);
    sources.bytesFromSeed += Number(swarm['bytes_from_seed'] ?? 0);
    sources.bytesFromPeers += Number(swarm['bytes_from_peers'] ?? 0);
  }
  return sources;
}

/** Runs `start` `count` times, at most `atOnce` at a time; results in call order. */
async function inBatches<T>(count: number, atOnce: number, start: () => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  while (results.length < count) {
    results.push(...(await Promise.all(Array.from({ length: Math.min(atOnce, count - results.length) }, start))));
  }
  return results;
}
