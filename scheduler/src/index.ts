import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@flotilla/log';
import { OriginClient } from '@flotilla/origin';
import { Bootstrapper, createP2PNode, loadOrCreateIdentity } from '@flotilla/p2p';
import { TokenBucket } from '@flotilla/ratelimit';
import { ContentStore } from '@flotilla/store';
import { handlePiece, handleSched, isProtocolViolation, signTaskMeta, verifyTaskMeta } from '@flotilla/wire';
import type { IdentifyResult } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import type { SchedulerConfig } from './config.ts';
import { Holdings } from './holdings.ts';
import { HostRegistry } from './hosts.ts';
import { startStatusServer } from './http.ts';
import { LoadAwarePolicy } from './parents/load-aware.ts';
import { PenaltyBox } from './parents/penalties.ts';
import { SeedGroupPolicy } from './parents/seed-group.ts';
import { SeedPieceServer } from './seed-pieces.ts';
import { Seeds } from './seed.ts';
import { SchedService } from './service.ts';
import { hostsView, tasksView } from './status.ts';
import { TaskTable } from './tasks.ts';

export type { SchedulerConfig } from './config.ts';
export { loadSchedulerConfig, schedulerOptions } from './config.ts';
export type { ParentCandidate, ParentPolicy, ParentRequest } from './parents/policy.ts';
export { LoadAwarePolicy } from './parents/load-aware.ts';
export { SeedGroupPolicy } from './parents/seed-group.ts';

export interface RunningScheduler {
  peerId: string;
  /** Full multiaddrs, /p2p/<peerId> included: what a daemon's --scheduler takes. */
  p2pAddresses: string[];
  /** "HOST:PORT" of the status endpoints. */
  httpAddress: string;
  stop(): Promise<void>;
}

/** How often dead hosts are looked for, at most. */
const MAX_EXPIRY_INTERVAL_MS = 5_000;

/** Starts the scheduler: libp2p node (sched + piece protocols), seeding store, origin client and status endpoints. */
export async function startScheduler(config: SchedulerConfig, logger: Logger): Promise<RunningScheduler> {
  await mkdir(config.dataDir, { recursive: true });
  const store = await ContentStore.open(join(config.dataDir, 'store'), logger);
  const insecure = new Set(config.insecureRegistries);
  const origin = new OriginClient({
    access: (registry) => ({ insecure: insecure.has(registry) }),
    connectTimeoutMs: config.originConnectTimeoutMs,
    firstByteTimeoutMs: config.originFirstByteTimeoutMs,
    idleTimeoutMs: config.originIdleTimeoutMs,
    logger: logger.child({ component: 'origin' }),
  });
  const cleanups: (() => void | Promise<void>)[] = [() => store.close(), () => origin.close()];
  const cleanUp = async () => {
    for (const step of [...cleanups].reverse()) {
      try {
        await step();
      } catch (err) {
        logger.warn({ err: String(err) }, 'error while stopping');
      }
    }
  };
  try {
    const identityFile = join(config.dataDir, 'identity.key');
    const node = await createP2PNode({
      listen: [config.p2pListen],
      identityFile,
      ...(config.swarmKeyFile !== undefined ? { swarmKeyFile: config.swarmKeyFile } : {}),
      logger: logger.child({ component: 'p2p' }),
      dht: {},
    });
    cleanups.push(() => node.stop());
    const bootstrapper = new Bootstrapper({ node, targets: config.bootstrap, logger: logger.child({ component: 'bootstrap' }) });
    bootstrapper.start();
    cleanups.push(() => bootstrapper.stop());
    const peerId = node.peerId.toString();
    const privateKey = loadOrCreateIdentity(identityFile);
    const addresses = () => node.getMultiaddrs().map(String);

    const hosts = new HostRegistry(config.hostTtlMs);
    const tasks = new TaskTable();
    const seeds: Seeds = new Seeds({
      store,
      origin,
      download: new TokenBucket(config.downloadRate),
      logger: logger.child({ component: 'seed' }),
      onFailed: (digest) => tasks.delete(digest),
      // The node's own key: daemons trust task meta under the peer ids of their schedulers.
      sign: async (meta) => signTaskMeta(meta, await privateKey, peerId),
    });
    cleanups.push(() => seeds.close());
    const trusted = new Set([peerId, ...config.trustedSchedulers]);
    const holdings = new Holdings({
      seeds,
      tasks,
      trusts: async (signed) => trusted.has(signed.signature.signer) && verifyTaskMeta(signed.meta, signed.signature),
      logger: logger.child({ component: 'holdings' }),
    });
    const service = new SchedService({
      hosts,
      tasks,
      seeds,
      holdings,
      policy: config.parentPolicy === 'load-aware' ? new LoadAwarePolicy() : new SeedGroupPolicy({ groupSize: config.seedGroupSize }),
      penalties: new PenaltyBox(),
      k: config.parents,
      self: { peerId, addresses, uploadSlots: config.uploadSlots },
      knownAddresses: async (peer) => {
        const known = await node.peerStore.get(peerIdFromString(peer)).catch(() => undefined);
        return known?.addresses.map((a) => a.multiaddr.toString()) ?? [];
      },
      hostTtlMs: config.hostTtlMs,
      logger: logger.child({ component: 'sched' }),
    });
    const uploads = new SeedPieceServer({
      seeds,
      uploadSlots: config.uploadSlots,
      uploadQueueMs: config.uploadQueueMs,
      upload: new TokenBucket(config.uploadRate),
      logger: logger.child({ component: 'upload' }),
    });
    const onError = (protocol: string) => (err: unknown, peer: { toString(): string }) => {
      const fields = { protocol, peer: peer.toString(), err: String(err) };
      if (isProtocolViolation(err)) logger.warn(fields, 'protocol violation');
      else logger.debug(fields, 'stream failed');
    };
    await handleSched(node, service.handle, {
      pieceCount: (digest) => tasks.get(digest)?.meta.pieceCount,
      onError: onError('sched'),
    });
    await handlePiece(node, uploads, { onError: onError('piece') });

    const onIdentify = (evt: CustomEvent<IdentifyResult>): void =>
      hosts.learnAddresses(evt.detail.peerId.toString(), evt.detail.listenAddrs.map(String));
    node.addEventListener('peer:identify', onIdentify);
    cleanups.push(() => node.removeEventListener('peer:identify', onIdentify));

    const expiry = setInterval(() => {
      for (const expired of hosts.expire(Date.now())) service.forgetPeer(expired, 'host expired');
    }, Math.min(config.hostTtlMs, MAX_EXPIRY_INTERVAL_MS));
    expiry.unref();
    cleanups.push(() => clearInterval(expiry));

    const status = await startStatusServer(
      config.httpListen,
      { tasks: () => tasksView(tasks, seeds, uploads), hosts: () => hostsView(hosts, tasks) },
      logger.child({ component: 'http' }),
    );
    cleanups.push(() => status.close());

    const p2pAddresses = addresses();
    logger.info({ peerId, addresses: p2pAddresses, http: status.address, dataDir: config.dataDir }, 'scheduler listening');
    return {
      peerId,
      p2pAddresses,
      httpAddress: status.address,
      async stop() {
        await cleanUp();
        logger.info('scheduler stopped');
      },
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
