import { join } from 'node:path';
import type { Logger } from '@flotilla/log';
import type { OriginClient } from '@flotilla/origin';
import { Bootstrapper, createP2PNode } from '@flotilla/p2p';
import { TokenBucket } from '@flotilla/ratelimit';
import type { ContentStore } from '@flotilla/store';
import type { BlobSource } from '../blob/source.ts';
import { DEFAULT_P2P_LISTEN, type DaemonConfig } from '../config.ts';
import { ActiveDownloads } from './active-downloads.ts';
import { ContentAnnouncer } from './announcer.ts';
import { PieceServer } from './piece-server.ts';
import { SchedulerClient } from './scheduler-client.ts';
import { SwarmBlobSource } from './swarm-source.ts';

export { RateLimitedOriginClient } from './rate-limited-origin.ts';

export interface Swarm {
  /** Where blob misses go: the swarm when a scheduler is configured, else the origin source it was given. */
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

/** Starts the daemon's P2P side: the libp2p node, the piece server and (with --scheduler) the swarm blob source. */
export async function startSwarm(config: DaemonConfig, deps: SwarmDeps): Promise<Swarm> {
  const { logger } = deps;
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
    store: deps.store,
    reprovideIntervalMs: config.reprovideIntervalMs,
    logger: logger.child({ component: 'announcer' }),
  });
  const active = new ActiveDownloads();
  try {
    await new PieceServer({
      node,
      store: deps.store,
      active,
      uploadSlots: config.uploadSlots,
      uploadBucket: new TokenBucket(config.uploadRate),
      logger: logger.child({ component: 'piece-server' }),
    }).start();
    await announcer.start();
  } catch (err) {
    announcer.stop();
    await bootstrapper.stop();
    await node.stop();
    throw err;
  }
  // Several schedulers are for failover (later); the first one is used for now.
  const schedulerAddress = config.schedulers[0];
  const scheduler =
    schedulerAddress === undefined
      ? undefined
      : new SchedulerClient({
          node,
          address: schedulerAddress,
          timeoutMs: config.schedulerTimeoutMs,
          registration: {
            uploadSlots: config.uploadSlots,
            ...(config.zone === undefined ? {} : { zone: config.zone }),
            ...(config.uploadRate > 0 ? { uploadRate: config.uploadRate } : {}),
          },
          logger: logger.child({ component: 'scheduler-client' }),
        });
  scheduler?.start();
  const peerId = node.peerId.toString();
  logger.info({ peerId, addresses: node.getMultiaddrs().map(String), scheduler: schedulerAddress }, 'p2p listening');
  return {
    peerId,
    source: scheduler
      ? new SwarmBlobSource({
          node,
          scheduler,
          fallback: deps.originSource,
          origin: deps.origin,
          active,
          downloadBucket: deps.downloadBucket,
          piecesInFlight: config.piecesInFlight,
          pieceTimeoutMs: config.pieceTimeoutMs,
          logger: logger.child({ component: 'swarm' }),
        })
      : deps.originSource,
    async stop() {
      announcer.stop();
      await bootstrapper.stop();
      await scheduler?.stop();
      await node.stop();
    },
  };
}
