import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDigest } from '@flotilla/oci';
import { pushRandomImage, startFlotillaDaemon, startRegistry, startService, waitFor, type Registry, type Service } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import type { BlobRef } from './curl.ts';

export const REPOSITORY = 'bench';
export const TAG = 'v1';

/** The origin registry with `bench:v1`: a manifest whose layers are the throughput blob and the memory-run blob. */
export interface Origin {
  registry: Registry;
  blob: BlobRef;
  memBlob: BlobRef;
  manifestDigest: string;
}

/** A way to reach the origin's content: directly, through the registry proxy, or through the daemon. */
export interface PullTarget {
  name: TargetName;
  blobUrl(digest: string): string;
  manifestUrl(reference: string): string;
  /** The server processes on the request path, whose CPU time is reported (origin always, plus the mirror). */
  pids: Record<string, number>;
  /** Resolves once the mirror has the blob in its own storage, so the next pull is warm. */
  waitCached(blob: BlobRef): Promise<void>;
  /** The last lines the server in front printed, to put next to a failed request. */
  outputTail(): string;
  stop(): Promise<void>;
}

export type TargetName = 'direct' | 'relay' | 'proxy' | 'daemon';

/** A mirror that has not stored a blob it has just served within this long is reported as failing. */
const CACHE_DEADLINE_MS = 60_000;

/** Starts a fresh docker-registry and pushes `bench:v1` with random (incompressible) layers of the given sizes. */
export async function startOrigin(cleanup: Cleanup, sizes: { size: number; memSize: number }): Promise<Origin> {
  const registry = await cleanup.start(startRegistry());
  const image = await pushRandomImage(registry, REPOSITORY, TAG, { layerSizes: [sizes.size, sizes.memSize] });
  const [blob, memBlob] = image.layers.map((layer) => ({ digest: layer.digest, size: layer.bytes.length }));
  return { registry, blob: blob!, memBlob: memBlob!, manifestDigest: image.manifestDigest };
}

export function directTarget(origin: Origin): PullTarget {
  return {
    name: 'direct',
    ...registryUrls(origin.registry.url),
    pids: { origin: pidOf(origin.registry) },
    waitCached: async () => {},
    outputTail: () => tail(origin.registry.service),
    stop: async () => {},
  };
}

const RELAY_SCRIPT = fileURLToPath(new URL('./tcp-relay.ts', import.meta.url));

/** The origin behind a zero-work TCP relay (tcp-relay.ts): the ceiling for anything that sits in between. */
export async function startRelayTarget(cleanup: Cleanup, origin: Origin): Promise<PullTarget> {
  const relay = await cleanup.start(startRelay(origin.registry.host));
  const pid = relay.service.child.pid;
  if (pid === undefined) throw new Error('relay has no pid');
  return {
    name: 'relay',
    ...registryUrls(`http://${relay.host}`),
    pids: { origin: pidOf(origin.registry), relay: pid },
    waitCached: async () => {},
    outputTail: () => tail(relay.service),
    stop: relay.stop,
  };
}

async function startRelay(target: string): Promise<{ service: Service; host: string; stop(): Promise<void> }> {
  const { service, match } = await startService(process.execPath, [RELAY_SCRIPT, target], { ready: /relay listening on (127\.0\.0\.1:\d+)/ });
  return { service, host: match![1]!, stop: () => service.stop() };
}

/** docker-registry as a pull-through cache of the origin (the seeds' mirror), on fresh storage. */
export async function startProxyTarget(cleanup: Cleanup, origin: Origin): Promise<PullTarget> {
  const proxy = await cleanup.start(startRegistry({ proxyRemoteUrl: origin.registry.url }));
  return {
    name: 'proxy',
    ...registryUrls(proxy.url),
    pids: { origin: pidOf(origin.registry), proxy: pidOf(proxy) },
    // distribution's filesystem layout: docker/registry/v2/blobs/<alg>/<2 hex>/<hex>/data
    waitCached: (blob) => waitForFile(join(proxy.root, 'docker/registry/v2/blobs', shardPath(blob.digest), 'data')),
    outputTail: () => tail(proxy.service),
    stop: proxy.stop,
  };
}

/** `flotilla daemon` on a fresh data dir, reaching the plain-http origin; requests name it with `?ns=` like containerd. */
export async function startDaemonTarget(cleanup: Cleanup, origin: Origin): Promise<PullTarget> {
  const daemon = await cleanup.start(startFlotillaDaemon({ args: ['--insecure-registry', origin.registry.host] }));
  const ns = `?ns=${encodeURIComponent(origin.registry.host)}`;
  const pid = daemon.service.child.pid;
  if (pid === undefined) throw new Error('daemon has no pid');
  return {
    name: 'daemon',
    blobUrl: (digest) => `${daemon.url}/v2/${REPOSITORY}/blobs/${digest}${ns}`,
    manifestUrl: (reference) => `${daemon.url}/v2/${REPOSITORY}/manifests/${reference}${ns}`,
    pids: { origin: pidOf(origin.registry), daemon: pid },
    // The daemon's content store (packages/store layout): <data-dir>/store/blobs/<alg>/<2 hex>/<hex>
    waitCached: (blob) => waitForFile(join(daemon.dataDir, 'store/blobs', shardPath(blob.digest))),
    outputTail: () => tail(daemon.service),
    stop: daemon.stop,
  };
}

function registryUrls(base: string): Pick<PullTarget, 'blobUrl' | 'manifestUrl'> {
  return {
    blobUrl: (digest) => `${base}/v2/${REPOSITORY}/blobs/${digest}`,
    manifestUrl: (reference) => `${base}/v2/${REPOSITORY}/manifests/${reference}`,
  };
}

const TAIL_LINES = 8;

function tail(service: Service): string {
  return service.output().trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
}

function pidOf(registry: Registry): number {
  const pid = registry.service.child.pid;
  if (pid === undefined) throw new Error(`registry ${registry.host} has no pid`);
  return pid;
}

/** `<alg>/<first 2 hex>/<hex>`, the sharding both stores use. */
function shardPath(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return join(algorithm, hex.slice(0, 2), hex);
}

async function waitForFile(path: string): Promise<void> {
  try {
    await waitFor(() => access(path).then(() => true), CACHE_DEADLINE_MS, 20);
  } catch {
    throw new Error(`the mirror did not store the blob it served within ${CACHE_DEADLINE_MS} ms (no ${path})`);
  }
}
