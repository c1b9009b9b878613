import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Logger } from '@flotilla/log';
import { readDockerConfigCredentials, type RegistryAccess } from '@flotilla/origin';
import { TokenBucket } from '@flotilla/ratelimit';
import { ContentStore } from '@flotilla/store';
import { BlobDownloads } from './blob/download.ts';
import { OriginBlobSource } from './blob/origin-source.ts';
import { blobTransportTuning, p2pEnabled, type DaemonConfig } from './config.ts';
import { BlobHandler } from './mirror/blobs.ts';
import { ManifestHandler } from './mirror/manifests.ts';
import { createMirrorServer } from './mirror/server.ts';
import { normalizeRegistry, type UpstreamPolicy } from './mirror/upstream.ts';
import type { Swarm } from './swarm/index.ts';
import { RateLimitedOriginClient } from './swarm/rate-limited-origin.ts';

export type { DaemonConfig } from './config.ts';
export { daemonOptions, loadDaemonConfig } from './config.ts';

export interface RunningDaemon {
  mirrorAddress: { host: string; port: number };
  stop(): Promise<void>;
}

/**
 * Starts the node daemon: the content store, the origin client, the swarm (with --scheduler / --p2p-listen) and the
 * registry mirror in front of them.
 */
export async function startDaemon(config: DaemonConfig, logger: Logger): Promise<RunningDaemon> {
  const store = await ContentStore.open(join(config.dataDir, 'store'), logger.child({ component: 'store' }));
  // --download-rate covers everything the node receives: origin bodies and swarm pieces draw on one bucket.
  const downloadBucket = new TokenBucket(config.downloadRate);
  const origin = new RateLimitedOriginClient(
    {
      access: registryAccess(config),
      connectTimeoutMs: config.originConnectTimeoutMs,
      firstByteTimeoutMs: config.originFirstByteTimeoutMs,
      idleTimeoutMs: config.originIdleTimeoutMs,
      blobTransport: blobTransportTuning(config),
      logger: logger.child({ component: 'origin' }),
    },
    downloadBucket,
  );
  const originSource = new OriginBlobSource(origin, { batchBytes: config.originWriteBatchBytes, inFlight: config.originWritesInFlight });
  let swarm: Swarm | undefined;
  try {
    if (p2pEnabled(config)) {
      // Loaded only when P2P is on: libp2p adds ~20 MB to a mirror-only daemon's memory.
      const { startSwarm } = await import('./swarm/index.ts');
      swarm = await startSwarm(config, { store, origin, originSource, downloadBucket, logger });
    }
  } catch (err) {
    await Promise.all([origin.close(), store.close()]);
    throw err;
  }
  const downloads = new BlobDownloads(store, swarm?.source ?? originSource, logger.child({ component: 'download' }));
  const server = createMirrorServer({
    policy: upstreamPolicy(config),
    manifests: new ManifestHandler(
      store,
      origin,
      { staleWindowMs: config.staleManifestWindowMs, maxManifestBytes: config.maxManifestBytes },
      logger.child({ component: 'manifests' }),
    ),
    blobs: new BlobHandler(store, downloads, origin),
    logger: logger.child({ component: 'mirror' }),
  });
  server.listen(config.mirrorListen.port, config.mirrorListen.host);
  try {
    await once(server, 'listening');
  } catch (err) {
    await swarm?.stop();
    await Promise.all([origin.close(), store.close()]);
    throw err;
  }
  const address = server.address() as AddressInfo;
  const mirrorAddress = { host: address.address, port: address.port };
  logger.info({ address: `${formatHost(address.address)}:${address.port}`, dataDir: config.dataDir }, 'mirror listening');

  return {
    mirrorAddress,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await downloads.cancelAll();
      await closed;
      await swarm?.stop();
      await Promise.all([origin.close(), store.close()]);
      logger.info('daemon stopped');
    },
  };
}

function upstreamPolicy(config: DaemonConfig): UpstreamPolicy {
  return {
    defaultRegistry: normalizeRegistry(config.defaultRegistry),
    aliases: Object.fromEntries(Object.entries(config.registryAliases).map(([k, v]) => [k, normalizeRegistry(v)])),
    allowed: config.allowedRegistries,
    configured: [...config.insecureRegistries, ...Object.keys(config.registries), ...Object.values(config.registryAliases)],
  };
}

/**
 * Per-registry access settings: config file entries, then --insecure-registry, then docker config.json credentials.
 * Everything is read here, at startup, so a bad CA file or config.json fails the launch instead of a request.
 */
function registryAccess(config: DaemonConfig): (registry: string) => RegistryAccess {
  const dockerCredentials = config.dockerConfig ? readDockerConfigCredentials(config.dockerConfig) : new Map();
  const insecure = new Set(config.insecureRegistries.map(normalizeRegistry));
  const configured = new Map<string, RegistryAccess>();
  for (const [host, entry] of Object.entries(config.registries)) {
    const registry = normalizeRegistry(host);
    configured.set(registry, {
      insecure: entry.insecure ?? insecure.has(registry),
      ...(entry.caFile ? { caPem: readCaFile(host, entry.caFile) } : {}),
      ...(entry.username !== undefined ? { username: entry.username, password: entry.password ?? '' } : {}),
    });
  }
  return (registry) =>
    configured.get(registry) ?? { insecure: insecure.has(registry), ...dockerCredentials.get(registry) };
}

function readCaFile(host: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`registries.${host}.ca-file: cannot read ${path}: ${(err as Error).message}`);
  }
}

function formatHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
