import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { DEFAULT_MANIFEST_ACCEPT, OciError, digestOf, parseDigest, type Digest } from '@flotilla/oci';
import type { Logger } from '@flotilla/log';
import type { OriginClient, OriginResponse } from '@flotilla/origin';
import { DigestMismatchError, type ContentStore } from '@flotilla/store';
import { requestOrigin } from '../origin-request.ts';
import { upstreamFailure, upstreamStatusError } from '../upstream-errors.ts';
import { forwardedHeaders, type ForwardedHeaders, type RequestLog } from './context.ts';
import { sendBody } from './respond.ts';

export interface ManifestRoute {
  registry: string;
  repository: string;
  digest?: Digest;
  tag?: string;
}

export interface ManifestPolicy {
  /** How old a tag resolution may be and still be served when the origin is down. */
  staleWindowMs: number;
  maxManifestBytes: number;
}

interface Manifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

const STALE_WARNING = '110 - "Response is Stale"';

/**
 * `GET|HEAD /v2/<name>/manifests/<ref>`. Tags are always resolved at the origin (a tag moves), falling back to the
 * last resolution within the stale window when the origin is unreachable or failing. Digests are content-addressed:
 * served from the store, fetched once on a miss and verified before they are stored.
 */
export class ManifestHandler {
  readonly #store: ContentStore;
  readonly #origin: OriginClient;
  readonly #policy: ManifestPolicy;
  readonly #logger: Logger;
  readonly #byDigestInFlight = new Map<string, Promise<Manifest>>();

  constructor(store: ContentStore, origin: OriginClient, policy: ManifestPolicy, logger: Logger) {
    this.#store = store;
    this.#origin = origin;
    this.#policy = policy;
    this.#logger = logger;
  }

  async handle(req: IncomingMessage, res: ServerResponse, route: ManifestRoute, log: RequestLog): Promise<void> {
    const method = req.method ?? 'GET';
    const forwarded = forwardedHeaders(req);
    if (route.digest) {
      log.digest = route.digest.value;
      const manifest = await this.#byDigest(route, route.digest, forwarded, log);
      log.bytes = method === 'GET' ? manifest.bytes.byteLength : 0;
      return sendManifest(res, method, manifest, {});
    }
    await this.#byTag(req, res, route, route.tag!, forwarded, log);
  }

  async #byTag(req: IncomingMessage, res: ServerResponse, route: ManifestRoute, tag: string, forwarded: ForwardedHeaders, log: RequestLog): Promise<void> {
    const method = req.method === 'HEAD' ? 'HEAD' : 'GET';
    const key = `${route.registry}/${route.repository}:${tag}`;
    log.source = 'origin';
    let response: OriginResponse;
    try {
      response = await this.#requestManifest(route, tag, method, forwarded);
    } catch (err) {
      // Only a failure to reach the origin falls back to the last resolution; anything else is the client's answer.
      if (!(err instanceof OciError) || err.status < 500) throw err;
      return this.#serveStale(res, method, key, err, log);
    }
    if (response.status >= 500) {
      response.body.destroy();
      return this.#serveStale(res, method, key, upstreamStatusError(response, 'manifest'), log);
    }
    if (response.status !== 200) {
      response.body.destroy();
      throw upstreamStatusError(response, 'manifest');
    }
    const mediaType = response.headers['content-type'] ?? 'application/octet-stream';
    if (method === 'HEAD') {
      response.body.destroy();
      const digest = safeDigest(response.headers['docker-content-digest']);
      const length = Number(response.headers['content-length']);
      if (!digest || !Number.isSafeInteger(length)) {
        throw new OciError(502, 'UNAVAILABLE', 'the upstream registry answered a manifest HEAD without digest or length');
      }
      await this.#store.putTagResolution(key, { digest: digest.value, mediaType, size: length, resolvedAt: Date.now() });
      log.digest = digest.value;
      res.writeHead(200, manifestHeaders({ digest: digest.value, mediaType }, length));
      res.end();
      return;
    }
    const bytes = await readLimited(response.body, this.#policy.maxManifestBytes);
    // The store verifies the bytes against the origin's Docker-Content-Digest, so a lying origin is caught here.
    const digest = safeDigest(response.headers['docker-content-digest']) ?? parseDigest(digestOf(bytes));
    const manifest = await this.#storeManifest(digest, mediaType, bytes, route);
    await this.#store.putTagResolution(key, { digest: manifest.digest, mediaType, size: bytes.byteLength, resolvedAt: Date.now() });
    log.digest = manifest.digest;
    log.bytes = bytes.byteLength;
    sendManifest(res, method, manifest, {});
  }

  async #serveStale(res: ServerResponse, method: string, key: string, cause: OciError, log: RequestLog): Promise<void> {
    const resolution = await this.#store.getTagResolution(key);
    if (!resolution || Date.now() - resolution.resolvedAt > this.#policy.staleWindowMs) throw cause;
    const record = await this.#store.stat(resolution.digest);
    if (method === 'GET' && !record) throw cause;
    log.source = 'stale';
    log.digest = resolution.digest;
    this.#logger.warn({ key, digest: resolution.digest, age_ms: Date.now() - resolution.resolvedAt, error: cause.message }, 'serving stale tag resolution');
    if (method === 'HEAD') {
      res.writeHead(200, { ...manifestHeaders(resolution, resolution.size), warning: STALE_WARNING });
      res.end();
      return;
    }
    const bytes = await readFile(this.#store.blobPath(resolution.digest));
    log.bytes = bytes.byteLength;
    sendManifest(res, method, { digest: resolution.digest, mediaType: resolution.mediaType, bytes }, { warning: STALE_WARNING });
  }

  async #byDigest(route: ManifestRoute, digest: Digest, forwarded: ForwardedHeaders, log: RequestLog): Promise<Manifest> {
    const record = await this.#store.stat(digest.value);
    if (record) {
      log.source = 'cache';
      void this.#store.touch(digest.value);
      return { digest: digest.value, mediaType: record.mediaType ?? 'application/octet-stream', bytes: await readFile(this.#store.blobPath(digest.value)) };
    }
    log.source = 'origin';
    let inFlight = this.#byDigestInFlight.get(digest.value);
    if (!inFlight) {
      inFlight = this.#fetchByDigest(route, digest, forwarded).finally(() => this.#byDigestInFlight.delete(digest.value));
      this.#byDigestInFlight.set(digest.value, inFlight);
    }
    return inFlight;
  }

  async #fetchByDigest(route: ManifestRoute, digest: Digest, forwarded: ForwardedHeaders): Promise<Manifest> {
    const response = await this.#requestManifest(route, digest.value, 'GET', forwarded);
    if (response.status !== 200) {
      response.body.destroy();
      throw upstreamStatusError(response, 'manifest');
    }
    const bytes = await readLimited(response.body, this.#policy.maxManifestBytes);
    return this.#storeManifest(digest, response.headers['content-type'] ?? 'application/octet-stream', bytes, route);
  }

  #requestManifest(route: ManifestRoute, reference: string, method: 'GET' | 'HEAD', forwarded: ForwardedHeaders): Promise<OriginResponse> {
    return requestOrigin(this.#origin, {
      registry: route.registry,
      repository: route.repository,
      kind: 'manifests',
      reference,
      method,
      accept: forwarded.accept ?? [DEFAULT_MANIFEST_ACCEPT],
      ...(forwarded.authorization ? { authorization: forwarded.authorization } : {}),
    });
  }

  /** Verifies and stores a manifest; a digest mismatch is the upstream's fault and nothing is kept. */
  async #storeManifest(digest: Digest, mediaType: string, bytes: Buffer, route: ManifestRoute): Promise<Manifest> {
    if (!(await this.#store.stat(digest.value))) {
      const writer = await this.#store.createWriter(digest, bytes.byteLength);
      try {
        await writer.append(bytes);
        await writer.commit({ mediaType, source: 'origin', registry: route.registry, repository: route.repository });
      } catch (err) {
        await writer.abort();
        if (err instanceof DigestMismatchError) {
          throw new OciError(502, 'DIGEST_INVALID', `upstream manifest does not match ${digest.value}`);
        }
        throw err;
      }
    }
    return { digest: digest.value, mediaType, bytes };
  }
}

function sendManifest(res: ServerResponse, method: string, manifest: Manifest, extra: Record<string, string>): void {
  sendBody(res, method, 200, { ...manifestHeaders(manifest, manifest.bytes.byteLength), ...extra }, manifest.bytes);
}

function manifestHeaders(m: { digest: string; mediaType: string }, length: number): Record<string, string | number> {
  return { 'content-type': m.mediaType, 'docker-content-digest': m.digest, 'content-length': length };
}

function safeDigest(value: string | undefined): Digest | undefined {
  if (!value) return undefined;
  try {
    return parseDigest(value);
  } catch {
    return undefined;
  }
}

async function readLimited(body: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.byteLength;
      if (total > max) throw new OciError(502, 'SIZE_INVALID', `upstream manifest exceeds ${max} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    body.destroy();
    throw upstreamFailure(err);
  }
  return Buffer.concat(chunks, total);
}
