import { createHash } from 'node:crypto';
import { Agent, request, type IncomingMessage } from 'node:http';
import { DEFAULT_MANIFEST_ACCEPT, parseDigest } from '@flotilla/oci';
import type { BenchImage } from './image.ts';

/** Where one node's client pulls from: the origin or central mirror through its link, or its own daemon. */
export interface NodeEndpoint {
  /** HOST:PORT the client connects to, as the node sees it. */
  host: string;
  /** The registry the image reference names; requests to another host carry it as `?ns=` (containerd's mirror convention). */
  registry: string;
  repository: string;
}

/** An endpoint at `host` for an image of `registry` (default: the host itself). */
export function registryEndpoint(host: string, repository: string, registry = host): NodeEndpoint {
  return { host, registry, repository };
}

export function manifestUrl(endpoint: NodeEndpoint, reference: string): string {
  return `http://${endpoint.host}/v2/${endpoint.repository}/manifests/${reference}${nsQuery(endpoint)}`;
}

export function blobUrl(endpoint: NodeEndpoint, digest: string): string {
  return `http://${endpoint.host}/v2/${endpoint.repository}/blobs/${digest}${nsQuery(endpoint)}`;
}

function nsQuery(endpoint: NodeEndpoint): string {
  return endpoint.registry === endpoint.host ? '' : `?ns=${encodeURIComponent(endpoint.registry)}`;
}

/** One node's pull, in seconds since the common start. */
export interface NodePull {
  /** The first body byte of any layer. */
  firstByteSeconds: number;
  /** Manifest and every blob received and verified. */
  doneSeconds: number;
}

export interface PullOptions {
  /** performance.now() of the common start. */
  startedAt: number;
  signal: AbortSignal;
  /** Called with each chunk's size as blob bytes arrive (progress display). */
  onBytes(bytes: number): void;
}

/** A blob or manifest that arrived with other content than its digest names: the mode fails. */
export class WrongContentError extends Error {
  override name = 'WrongContentError';
}

/** Blobs fetched at once per node, as containerd does by default (max_concurrent_downloads = 3). */
const CONCURRENT_BLOBS = 3;

/**
 * Pulls the image the way a runtime does over HTTP: the manifest by tag, then config and layers a few at a time,
 * checking the size and sha256 of everything against the manifest.
 */
export async function pullImage(endpoint: NodeEndpoint, image: BenchImage, options: PullOptions): Promise<NodePull> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENT_BLOBS });
  try {
    const manifest = await getBody(agent, manifestUrl(endpoint, image.tag), options.signal, { accept: DEFAULT_MANIFEST_ACCEPT });
    checkDigest(`manifest ${image.repository}:${image.tag}`, manifest, image.manifestDigest, image.manifestSize);
    let firstByteAt: number | undefined;
    const queue = [...image.blobs];
    const worker = async () => {
      for (let blob = queue.shift(); blob; blob = queue.shift()) {
        const isLayer = blob.kind === 'layer';
        await getVerifiedBlob(agent, blobUrl(endpoint, blob.digest), blob, options.signal, (bytes) => {
          if (isLayer) firstByteAt ??= performance.now();
          options.onBytes(bytes);
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_BLOBS, queue.length) }, worker));
    const doneAt = performance.now();
    return { firstByteSeconds: ((firstByteAt ?? doneAt) - options.startedAt) / 1000, doneSeconds: (doneAt - options.startedAt) / 1000 };
  } finally {
    agent.destroy();
  }
}

async function getVerifiedBlob(
  agent: Agent,
  url: string,
  blob: { digest: string; size: number },
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<void> {
  const res = await get(agent, url, signal, {});
  await expectOk(res, url);
  const hash = createHash(parseDigest(blob.digest).algorithm);
  let received = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    hash.update(chunk);
    received += chunk.byteLength;
    onBytes(chunk.byteLength);
  }
  const actual = `${parseDigest(blob.digest).algorithm}:${hash.digest('hex')}`;
  if (actual !== blob.digest || received !== blob.size) {
    throw new WrongContentError(`blob ${blob.digest} from ${url} arrived as ${received} bytes with digest ${actual} (expected ${blob.size} bytes)`);
  }
}

async function getBody(agent: Agent, url: string, signal: AbortSignal, headers: Record<string, string>): Promise<Buffer> {
  const res = await get(agent, url, signal, headers);
  await expectOk(res, url);
  const chunks: Buffer[] = [];
  for await (const chunk of res as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function checkDigest(what: string, bytes: Buffer, digest: string, expectedSize: number): void {
  const { algorithm } = parseDigest(digest);
  const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  if (actual !== digest || bytes.length !== expectedSize) {
    throw new WrongContentError(`${what} arrived with digest ${actual} (${bytes.length} bytes), expected ${digest}`);
  }
}

function get(agent: Agent, url: string, signal: AbortSignal, headers: Record<string, string>): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, signal, headers }, resolve);
    req.once('error', reject);
    req.end();
  });
}

/** Throws with the status and the start of the body unless the response is 200. */
async function expectOk(res: IncomingMessage, url: string): Promise<void> {
  if (res.statusCode === 200) return;
  let body = '';
  for await (const chunk of res as AsyncIterable<Buffer>) body = (body + chunk.toString()).slice(0, 500);
  throw new Error(`GET ${url}: HTTP ${res.statusCode} ${body}`);
}
