import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctrFetch, startContainerd, writeHostsDir, type Containerd } from '@flotilla/test';
import type { NodePull, PullOptions } from './client.ts';
import type { ClientContext, NodeClients } from './node-clients.ts';
import { inBatches, STARTING_AT_ONCE } from './swarm-daemons.ts';
import { pidOf } from './topology.ts';

/** How often a pulling containerd's content directory is read for progress and the first layer byte. */
const POLL_MS = 100;
/** The bench's abort (its mode timeout) stops containerd, which ends ctr; this only bounds a ctr that hangs anyway. */
const CTR_TIMEOUT_MS = 6 * 3_600_000;

/**
 * --client containerd: one containerd per node, resolving the image's registry through a hosts.toml whose mirror is
 * the node's endpoint, so requests carry `?ns=` as in production. `ctr content fetch` pulls: ctr (containerd 1.x's
 * client) makes the HTTP requests and streams the content into containerd, which checks every digest as it
 * commits. Under --link netns both run in the node's namespace.
 */
export async function startContainerdClients(ctx: ClientContext): Promise<NodeClients> {
  const nodes = await inBatches(ctx.endpoints.length, STARTING_AT_ONCE, async (index) => {
    const containerd = await ctx.scope.start(startContainerd({ commandPrefix: ctx.link.node(index).commandPrefix }));
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-bench-hosts-'));
    ctx.scope.add(() => rm(dir, { recursive: true, force: true }));
    const endpoint = ctx.endpoints[index]!;
    const hostsDir = await writeHostsDir(dir, { server: endpoint.registry, mirror: endpoint.host });
    return { containerd, hostsDir, ref: `${endpoint.registry}/${endpoint.repository}:${ctx.image.tag}` };
  });
  return {
    pull: (index, options) => {
      const { containerd, hostsDir, ref } = nodes[index]!;
      return fetchWithContainerd(containerd, { ref, hostsDir, commandPrefix: ctx.link.node(index).commandPrefix }, ctx.image.blobs, options);
    },
    roles: { containerd: nodes.map(({ containerd }) => pidOf(containerd.service, 'containerd')) },
    finishedChildrenRole: 'ctr',
    services: Object.fromEntries(nodes.map(({ containerd }, i) => [`containerd-${i}`, containerd.service])),
  };
}

interface Blob {
  digest: string;
  size: number;
  kind: 'config' | 'layer';
}

/** What one node's ctr fetches, and where it runs: ctr makes the registry requests itself, so in the node's namespace. */
interface Fetch {
  ref: string;
  hostsDir: string;
  commandPrefix: string[];
}

async function fetchWithContainerd(containerd: Containerd, fetch: Fetch, blobs: Blob[], options: PullOptions): Promise<NodePull> {
  const { ref, hostsDir, commandPrefix } = fetch;
  const stopOnAbort = () => void containerd.stop();
  options.signal.addEventListener('abort', stopOnAbort, { once: true });
  const progress = watchContent(containerd.root, blobs, options);
  try {
    const result = await ctrFetch(containerd, ref, { hostsDir, timeoutMs: CTR_TIMEOUT_MS, commandPrefix });
    options.signal.throwIfAborted();
    if (result.code !== 0) throw new Error(`ctr content fetch ${ref} exited ${result.code}: ${result.stderr.trim().slice(-1500)}`);
    const doneSeconds = (performance.now() - options.startedAt) / 1000;
    const missing = await missingBlobs(containerd.root, blobs);
    if (missing.length) throw new Error(`ctr content fetch ${ref} succeeded but containerd holds no (or a short) ${missing.join(', ')}`);
    const firstByteSeconds = await progress.finish();
    return { firstByteSeconds: Math.min(firstByteSeconds ?? doneSeconds, doneSeconds), doneSeconds };
  } finally {
    progress.stop();
    options.signal.removeEventListener('abort', stopOnAbort);
  }
}

const contentDir = (root: string) => join(root, 'io.containerd.content.v1.content');
const blobPath = (root: string, digest: string) => join(contentDir(root), 'blobs', ...digest.split(':'));

/**
 * Polls containerd's content store: bytes of the image's blobs in ingests (named by a `ref` file ending in the
 * digest, e.g. `layer-sha256:…`) and committed. Reports growth as received bytes; notes when a layer first had any.
 */
function watchContent(root: string, blobs: Blob[], options: PullOptions): { finish(): Promise<number | undefined>; stop(): void } {
  const ingestRoot = join(contentDir(root), 'ingest');
  const refs = new Map<string, string>();
  let reported = 0;
  let firstLayerByteAt: number | undefined;
  const poll = async () => {
    const sizes = new Map<string, number>();
    for (const blob of blobs) sizes.set(blob.digest, (await stat(blobPath(root, blob.digest)).catch(() => undefined))?.size ?? 0);
    for (const entry of await readdir(ingestRoot).catch(() => [] as string[])) {
      const ref = refs.get(entry) ?? (await readFile(join(ingestRoot, entry, 'ref'), 'utf8').catch(() => ''));
      if (ref) refs.set(entry, ref);
      const blob = blobs.find((b) => ref.endsWith(b.digest));
      if (!blob) continue;
      const size = (await stat(join(ingestRoot, entry, 'data')).catch(() => undefined))?.size ?? 0;
      sizes.set(blob.digest, Math.max(sizes.get(blob.digest) ?? 0, size));
    }
    if (firstLayerByteAt === undefined && blobs.some((b) => b.kind === 'layer' && (sizes.get(b.digest) ?? 0) > 0)) firstLayerByteAt = performance.now();
    // An ingest vanishes just before its blob appears: a poll in between must not take bytes back.
    const total = [...sizes.values()].reduce((sum, size) => sum + size, 0);
    if (total > reported) {
      options.onBytes(total - reported);
      reported = total;
    }
  };
  let polling: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    polling = polling.then(poll);
  }, POLL_MS);
  return {
    async finish() {
      clearInterval(timer);
      await polling.then(poll);
      return firstLayerByteAt === undefined ? undefined : (firstLayerByteAt - options.startedAt) / 1000;
    },
    stop: () => clearInterval(timer),
  };
}

async function missingBlobs(root: string, blobs: Blob[]): Promise<string[]> {
  const missing: string[] = [];
  for (const blob of blobs) {
    const size = (await stat(blobPath(root, blob.digest)).catch(() => undefined))?.size;
    if (size !== blob.size) missing.push(blob.digest);
  }
  return missing;
}
