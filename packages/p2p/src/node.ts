import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Logger } from '@flotilla/log';
import { identify, type Identify } from '@libp2p/identify';
import type { Libp2p } from '@libp2p/interface';
import { ping, type Ping } from '@libp2p/ping';
import { preSharedKey } from '@libp2p/pnet';
import { createLibp2p } from 'libp2p';
import { corkedTcp } from './corked-tcp.ts';
import { clusterDht, type ClusterDht, type DhtOptions } from './dht.ts';
import { loadOrCreateIdentity } from './identity.ts';
import { bulkNoiseCrypto } from './noise-crypto.ts';
import { readSwarmKey } from './swarm-key.ts';

export interface P2PNodeOptions {
  /** Multiaddrs to listen on, e.g. '/ip4/127.0.0.1/tcp/0'. */
  listen: string[];
  /** Ed25519 private key (protobuf, mode 0600); created on first start, reused after. */
  identityFile: string;
  /** Optional private-network key (/key/swarm/psk/1.0.0/ format); every peer of the cluster must share it. */
  swarmKeyFile?: string;
  /** Peers in these CIDRs bypass the per-IP inbound rate limit and maxConnections. */
  allowCidrs?: string[];
  maxConnections?: number;
  logger: Logger;
  /** Runs the cluster's private Kademlia DHT (services.dht). */
  dht?: DhtOptions;
  /** Extra libp2p services merged into the services map. */
  services?: Record<string, unknown>;
}

/** Private networks a cluster lives on. Loopback matters for tests: every peer there is 127.0.0.1. */
export const DEFAULT_ALLOW_CIDRS = [
  '/ip4/127.0.0.0/ipcidr/8',
  '/ip4/10.0.0.0/ipcidr/8',
  '/ip4/172.16.0.0/ipcidr/12',
  '/ip4/192.168.0.0/ipcidr/16',
];

/**
 * Yamux per-stream window W. The receive buffer must hold what is in flight when a reader pauses, so
 * maxReadBufferLength is 2W (the 4 MiB default aborts paused streams). 8 MiB fills a 10 ms RTT link at
 * 800 MB/s, and keeps a paused stream's memory small. initialStreamWindowSize stays at the default:
 * peers with different initial windows kill each other's connections.
 */
export const STREAM_WINDOW = 8 * 1024 * 1024;

/** The built-in services, plus whatever the caller added (typed by the caller where it uses them). */
export interface P2PServices extends Record<string, unknown> {
  identify: Identify;
  ping: Ping;
  /** Present when the node was created with the `dht` option. */
  dht?: ClusterDht;
}

export type P2PNode = Libp2p<P2PServices>;

/** A started libp2p node: TCP + (optional PSK) + Noise + Yamux, identify and ping. */
export async function createP2PNode(options: P2PNodeOptions): Promise<P2PNode> {
  const privateKey = await loadOrCreateIdentity(options.identityFile);
  const psk = options.swarmKeyFile === undefined ? undefined : await readSwarmKey(options.swarmKeyFile);
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: options.listen },
    transports: [corkedTcp()],
    ...(psk === undefined ? {} : { connectionProtector: preSharedKey({ psk }) }),
    connectionEncrypters: [noise({ crypto: bulkNoiseCrypto })],
    streamMuxers: [
      yamux({
        // Opening many piece streams right after a dial failed intermittently at the default of 10.
        maxEarlyStreams: 256,
        streamOptions: { maxStreamWindowSize: STREAM_WINDOW, maxReadBufferLength: 2 * STREAM_WINDOW },
      }),
    ],
    connectionManager: {
      maxConnections: options.maxConnections ?? 1000,
      allow: options.allowCidrs ?? DEFAULT_ALLOW_CIDRS,
    },
    // A saturated link delays pings; dropping the connection then would abort every transfer on it.
    connectionMonitor: { abortConnectionOnPingFailure: false },
    services: {
      identify: identify(),
      ping: ping(),
      ...(options.dht === undefined ? {} : { dht: clusterDht(options.dht) }),
      ...options.services,
    },
  });
  if (options.dht !== undefined) logDhtReady(node, options.logger);
  node.addEventListener('peer:connect', (evt) => options.logger.debug({ peer: evt.detail.toString() }, 'peer connected'));
  node.addEventListener('peer:disconnect', (evt) => options.logger.debug({ peer: evt.detail.toString() }, 'peer disconnected'));
  options.logger.info(
    { peerId: node.peerId.toString(), addresses: node.getMultiaddrs().map(String), privateNetwork: psk !== undefined },
    'p2p node started',
  );
  return node;
}

/**
 * Logs once when the DHT can answer: lookups wait for the first self-query that found peers, so until then a
 * miss finds no providers.
 */
function logDhtReady(node: P2PNode, logger: Logger): void {
  // kad-dht dispatches this on the node's event bus; it is not in libp2p's typed event map.
  const events = node as unknown as EventTarget;
  const onSelfQuery = (evt: Event): void => {
    const { peers, duration } = (evt as CustomEvent<{ peers: number; duration: number }>).detail;
    if (peers === 0) return;
    events.removeEventListener('kad-dht:query:self', onSelfQuery);
    logger.info({ peers, duration_ms: duration }, 'dht ready');
  };
  events.addEventListener('kad-dht:query:self', onSelfQuery);
}