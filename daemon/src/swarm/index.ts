import { join } from 'node:path';
import type { Logger } from '@flotilla/log';
import type { OriginClient } from '@flotilla/origin';
import { Bootstrapper, createP2PNode, type P2PNode } from '@flotilla/p2p';
import { TokenBucket } from '@flotilla/ratelimit';
import type { ContentStore } from '@flotilla/store';
import type { BlobSource } from '../blob/source.ts';
import { DEFAULT_P2P_LISTEN, type DaemonConfig } from '../config.ts';
import { ActiveDownloads } from './active-downloads.ts';
import { ContentAnnouncer } from './announcer.ts';
import { heldBlobs } from './held-blobs.ts';
import { DhtPlanner } from './dht-plan.ts';
import { SignedMetaStore } from './meta-store.ts';
import { PeerHealth } from './peer-health.ts';
import { PieceServer } from './piece-server.ts';
import { ProviderLookup } from './provider-lookup.ts';
import { SchedulerPool } from './scheduler-pool.ts';
import { SwarmMembership } from './swarm-members.ts';
import { SwarmBlobSource } from './swarm-source.ts';
import { TrustedSchedulers } from './trust.ts';

export { RateLimitedOriginClient } from './rate-limited-origin.ts';

export interface Swarm {
  /** Where blob misses go: the scheduler's swarm, DHT providers, then the origin source it was given. */
  source: BlobSource;
  peerId: string;
  stop(): Promise<void>;
}

export interface SwarmDeps {
  store: ContentStore;
  /** The origin client (already drawing on `downloadBucket`), for pieces nobody in the swarm delivers in time. */
  origin: OriginClient;
  /** The whole-blob origin source, for blobs the swarm will not serve. */
  originSource: BlobSource;
  downloadBucket: TokenBucket;
  logger: Logger;
}

/**
 * Starts the daemon's P2P side: the libp2p node with the DHT (bootstrapped from the schedulers and --bootstrap),
 * the piece server, the announcer of what the store holds, and the blob source that uses them.
 */
export async function startSwarm(config: DaemonConfig, deps: SwarmDeps): Promise<Swarm> {
  const { logger, store } = deps;
  const node = await createP2PNode({
    listen: [config.p2pListen ?? DEFAULT_P2P_LISTEN],
    identityFile: join(config.dataDir, 'p2p', 'identity.key'),
    ...(config.swarmKeyFile === undefined ? {} : { swarmKeyFile: config.swarmKeyFile }),
    logger: logger.child({ component: 'p2p' }),
    dht: {},
  });
  // The schedulers run the DHT too: they are everyone's first bootstrap peers.
  const bootstrapper = new Bootstrapper({
    node,
    targets: [...config.schedulers, ...config.bootstrap],
    logger: logger.child({ component: 'bootstrap' }),
  });
  bootstrapper.start();
  const announcer = new ContentAnnouncer({
    dht: node.services.dht!,
    store,
    reprovideIntervalMs: config.reprovideIntervalMs,
    logger: logger.child({ component: 'announcer' }),
  });
  const metas = new SignedMetaStore(join(config.dataDir, 'p2p', 'meta'), store);
  const active = new ActiveDownloads();
  try {
    await new PieceServer({
      node,
      store,
      active,
      metas,
      uploadSlots: config.uploadSlots,
      uploadQueueMs: config.uploadQueueMs,
      uploadBucket: new TokenBucket(config.uploadRate),
      logger: logger.child({ component: 'piece-server' }),
    }).start();
    await announcer.start();
  } catch (err) {
    announcer.stop();
    metas.close();
    await bootstrapper.stop();
    await node.stop();
    throw err;
  }
  const schedulers =
    config.schedulers.length === 0
      ? undefined
      : new SchedulerPool({
          node,
          addresses: config.schedulers,
          timeoutMs: config.schedulerTimeoutMs,
          answerTimeoutMs: config.schedulerAnswerTimeoutMs,
          registration: {
            uploadSlots: config.uploadSlots,
            ...(config.zone === undefined ? {} : { zone: config.zone }),
            ...(config.uploadRate > 0 ? { uploadRate: config.uploadRate } : {}),
          },
          holdings: () => heldBlobs(store, metas),
          logger: logger.child({ component: 'scheduler-client' }),
        });
  schedulers?.start();
  const peerId = node.peerId.toString();
  logger.info({ peerId, addresses: node.getMultiaddrs().map(String), schedulers: config.schedulers }, 'p2p listening');
  return {
    peerId,
    source: swarmSource(config, deps, { node, schedulers, active, metas }),
    async stop() {
      announcer.stop();
      metas.close();
      await bootstrapper.stop();
      await schedulers?.stop();
      await node.stop();
    },
  };
}

function swarmSource(
  config: DaemonConfig,
  deps: SwarmDeps,
  parts: { node: P2PNode; schedulers: SchedulerPool | undefined; active: ActiveDownloads; metas: SignedMetaStore },
): SwarmBlobSource {
  const { node, schedulers } = parts;
  const logger = deps.logger.child({ component: 'swarm' });
  const health = new PeerHealth();
  const trust = new TrustedSchedulers({
    trusted: config.trustedSchedulers,
    schedulerAddresses: config.schedulers,
    connected: () => schedulers?.knownPeerIds() ?? [],
  });
  const lookup = new ProviderLookup({ node, timeoutMs: config.dhtLookupTimeoutMs, health, logger });
  return new SwarmBlobSource({
    ...parts,
    dht: new DhtPlanner({ node, lookup, trust, health, logger }),
    lookup,
    membership: new SwarmMembership(node.services.dht!, logger),
    health,
    trust,
    fallback: deps.originSource,
    origin: deps.origin,
    downloadBucket: deps.downloadBucket,
    piecesInFlight: config.piecesInFlight,
    pieceTimeoutMs: config.pieceTimeoutMs,
    logger,
  });
}
