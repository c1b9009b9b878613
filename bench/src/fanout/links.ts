import type { Service } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import { createNetnsNetwork, type HostPlacement, type NetnsNetwork } from './netns.ts';
import type { FanoutOptions, LinkKind } from './options.ts';
import { startThrottleProxyProcess } from './throttle-proxy-process.ts';

export type { HostPlacement } from './netns.ts';

/** What a server's uplink is made of for one mode, and how nodes reach the server through it. */
export interface Uplink {
  /** HOST:PORT node `index` reaches the server at (through its own downlink under ratelimit); no index: another server. */
  hostFor(node?: number): string;
  /** Body bytes the server sent through it so far. */
  egressBytes(): Promise<number>;
  /** The proxy standing for the link (ratelimit) or forwarding to the server from its host's address (netns). */
  service: Service;
}

/** Where every host of the bench lives and how its links are emulated; the same for every mode of a run. */
export interface LinkEmulation {
  kind: LinkKind;
  /** The CPU table's name for the uplink proxies. */
  proxyRole: string;
  /** Flags keeping a daemon or the scheduler to the link rate: its own token buckets, or none when the kernel shapes. */
  rateFlags: string[];
  origin: HostPlacement;
  seed: HostPlacement;
  node(index: number): HostPlacement;
  /** Starts the uplink of a server at `target` (HOST:PORT as seen on its host); `nodeLinks` > 0: one way in per node. */
  startUplink(scope: Cleanup, options: { host: 'origin' | 'seed'; target: string; nodeLinks: number }): Promise<Uplink>;
}

/** Sets up the run's link emulation; what it creates (netns: the namespaces and bridge) is removed by `cleanup`. */
export async function startLinkEmulation(options: FanoutOptions, cleanup: Cleanup): Promise<LinkEmulation> {
  if (options.link === 'ratelimit') return tokenBucketLinks(options.linkRate);
  const network = await cleanup.start(
    createNetnsNetwork({
      nodes: options.nodes,
      rate: options.linkRate,
      ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
      ...(options.lossPercent === undefined ? {} : { lossPercent: options.lossPercent }),
    }).then((net) => ({ ...net, stop: () => net.remove() })),
  );
  return namespaceLinks(network);
}

const LOOPBACK: HostPlacement = { commandPrefix: [], ip: '127.0.0.1' };

/**
 * ratelimit: every host on this machine's loopback. A server's uplink is a throttle proxy's shared bucket, each
 * node's downlink a listener of its own; daemons and the scheduler keep to B with their own rate limits.
 */
function tokenBucketLinks(rate: number): LinkEmulation {
  return {
    kind: 'ratelimit',
    proxyRole: 'throttle proxy',
    rateFlags: ['--upload-rate', String(rate), '--download-rate', String(rate)],
    origin: LOOPBACK,
    seed: LOOPBACK,
    node: () => LOOPBACK,
    async startUplink(scope, { target, nodeLinks }) {
      const proxy = await scope.start(startThrottleProxyProcess({ target, egressRate: rate, linkRates: nodeLinks > 0 ? Array(nodeLinks).fill(rate) : [0] }));
      return {
        hostFor: (node) => proxy.linkHosts[nodeLinks > 0 && node !== undefined ? node : 0]!,
        egressBytes: async () => (await proxy.stats()).egressBytes,
        service: proxy.service,
      };
    },
  };
}

/**
 * netns: the kernel shapes every link (see netns.ts). A server listening on its namespace's loopback is reached
 * through a plain forwarding proxy on its host's bridge address, which also counts what it sends.
 */
function namespaceLinks(network: NetnsNetwork): LinkEmulation {
  return {
    kind: 'netns',
    proxyRole: 'forwarding proxy',
    rateFlags: [],
    origin: network.origin,
    seed: network.seed,
    node: (index) => network.nodes[index]!,
    async startUplink(scope, { host, target }) {
      const placement = host === 'origin' ? network.origin : network.seed;
      const proxy = await scope.start(
        startThrottleProxyProcess({ target, egressRate: 0, linkRates: [0], listenHost: placement.ip }, placement.commandPrefix),
      );
      return {
        hostFor: () => proxy.linkHosts[0]!,
        egressBytes: async () => (await proxy.stats()).egressBytes,
        service: proxy.service,
      };
    },
  };
}
