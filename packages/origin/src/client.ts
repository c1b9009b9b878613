import type { Readable } from 'node:stream';
import type { Logger } from '@flotilla/log';
import { parseChallenge } from './challenge.ts';
import type { Credentials } from './docker-config.ts';
import { Dispatchers } from './dispatchers.ts';
import { registryEndpoint } from './endpoint.ts';
import { OriginError } from './errors.ts';
import { basicAuthorization } from './http.ts';
import { DEFAULT_BLOB_TRANSPORT, Http1Transport, type BlobTransportTuning } from './http1-transport.ts';
import type { BlobBody } from './pooled-body.ts';
import { TokenCache } from './tokens.ts';
import type { HopResponse, Transport } from './transport.ts';
import { UndiciTransport } from './undici-transport.ts';

/** Per-registry settings, resolved by the daemon's config. */
export interface RegistryAccess {
  /** Plain http instead of https. */
  insecure: boolean;
  /** Extra CA for TLS verification (TLS is always verified). */
  caPem?: string;
  /** Credentials configured for this registry (or from docker config.json). */
  username?: string;
  password?: string;
}

export interface OriginClientOptions {
  /** Called per request; `registry` is the logical host ("docker.io", "127.0.0.1:5000"). */
  access(registry: string): RegistryAccess;
  connectTimeoutMs: number;
  /** Until response headers arrive. */
  firstByteTimeoutMs: number;
  /** Max gap between body chunks. */
  idleTimeoutMs: number;
  /** Connections and memory of blob GETs (DEFAULT_BLOB_TRANSPORT when not given). */
  blobTransport?: BlobTransportTuning;
  logger: Logger;
}

export interface OriginRequest {
  /** Logical host; "docker.io" maps to registry-1.docker.io. */
  registry: string;
  /** E.g. "library/alpine" (already validated). */
  repository: string;
  kind: 'manifests' | 'blobs';
  /** Tag or digest (already validated). */
  reference: string;
  method: 'GET' | 'HEAD';
  /** The client's Accept header lines, forwarded verbatim as separate values. */
  accept?: string[];
  /** The client's Authorization header, forwarded verbatim. */
  authorization?: string;
  range?: string;
  signal?: AbortSignal;
}

/** What a blob GET asks for: the kind and method are implied. */
export type OriginBlobRequest = Omit<OriginRequest, 'kind' | 'method'>;

export interface OriginResponse<Body = Readable> {
  status: number;
  /** Lower-case names, single values. */
  headers: Record<string, string>;
  /**
   * Raw bytes (never decompressed); fails with OriginTimeoutError when the origin goes idle too long. A node stream
   * from request(), a pooled BlobBody from requestBlob().
   */
  body: Body;
  /** Final URL after redirects. */
  url: string;
}

/** One HTTP exchange (redirects followed) before its body is handed to the caller. */
interface Exchange<Body> extends HopResponse<Body> {
  url: string;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
/** A 401 body we may return after a failed auth retry is kept in memory; error JSON is far below this. */
const MAX_BUFFERED_401_BYTES = 64 * 1024;
const USER_AGENT = 'flotilla';

/** Fetches manifests and blobs from upstream registries, doing their auth, redirects and deadlines. */
export class OriginClient {
  readonly #options: OriginClientOptions;
  readonly #dispatchers: Dispatchers;
  readonly #undici: UndiciTransport;
  readonly #http1: Http1Transport;
  readonly #tokens: TokenCache;
  /** Registries that challenged with Basic: configured credentials go along on the first try from then on. */
  readonly #basicRegistries = new Set<string>();

  constructor(options: OriginClientOptions) {
    this.#options = options;
    this.#dispatchers = new Dispatchers(options.connectTimeoutMs);
    const deadlines = { firstByteTimeoutMs: options.firstByteTimeoutMs, idleTimeoutMs: options.idleTimeoutMs };
    this.#undici = new UndiciTransport({ dispatchers: this.#dispatchers, ...deadlines });
    this.#http1 = new Http1Transport({
      connectTimeoutMs: options.connectTimeoutMs,
      ...deadlines,
      tuning: options.blobTransport ?? DEFAULT_BLOB_TRANSPORT,
    });
    this.#tokens = new TokenCache({ dispatchers: this.#dispatchers, ...deadlines, logger: options.logger });
  }

  /**
   * Sends one request upstream. Auth failures are never thrown: the origin's 401 (with its WWW-Authenticate) comes
   * back as the response. Throws OriginError when the origin cannot be reached or does not answer in time.
   */
  request(req: OriginRequest): Promise<OriginResponse<Readable>> {
    return this.#fetch(req, this.#undici);
  }

  /**
   * A blob GET whose body is read into pooled memory, on a connection of its own: the cold-pull path, where a
   * buffer per read and stream machinery cost more than the bytes themselves. Same auth, redirects and deadlines.
   */
  requestBlob(req: OriginBlobRequest): Promise<OriginResponse<BlobBody>> {
    return this.#fetch({ ...req, kind: 'blobs', method: 'GET' }, this.#http1);
  }

  /** Closes every upstream connection; requests still running fail (blob GETs in flight run to their end). */
  close(): Promise<void> {
    this.#http1.close();
    return this.#dispatchers.close();
  }

  async #fetch<Body>(req: OriginRequest, transport: Transport<Body>): Promise<OriginResponse<Body>> {
    const access = this.#options.access(req.registry);
    const url = `${registryEndpoint(req.registry, access.insecure)}/v2/${req.repository}/${req.kind}/${req.reference}`;
    const respond = (exchange: Exchange<Body>): OriginResponse<Body> => ({
      ...exchange,
      body: transport.relay(exchange.body, `${req.method} ${exchange.url}`, req.signal),
    });
    // The client runs its own token flow against the origin's challenge; we only relay.
    if (req.authorization !== undefined) return respond(await this.#exchange(transport, url, req, access, req.authorization));

    const credentials = credentialsOf(access);
    const defaultScope = `repository:${req.repository}:pull`;
    const cachedToken = this.#basicRegistries.has(req.registry) ? undefined : this.#tokens.cached(req.registry, defaultScope);
    const first = await this.#exchange(transport, url, req, access, this.#preemptiveAuthorization(req.registry, credentials, cachedToken));
    if (first.status !== 401) return respond(first);

    const denied = await bufferBody(transport, first);
    if (cachedToken) this.#tokens.invalidate(req.registry, defaultScope, cachedToken);
    const retry = await this.#answerChallenge(denied, req, access, credentials, defaultScope);
    if (!retry) return respond(denied);
    const second = await this.#exchange(transport, url, req, access, retry.authorization);
    if (second.status === 401) retry.rejected();
    return respond(second);
  }

  #preemptiveAuthorization(registry: string, credentials?: Credentials, cachedToken?: string): string | undefined {
    if (credentials && this.#basicRegistries.has(registry)) return basicAuthorization(credentials.username, credentials.password);
    return cachedToken ? `Bearer ${cachedToken}` : undefined;
  }

  /** The Authorization to retry with after a 401, or undefined when we have nothing better to offer. */
  async #answerChallenge(
    denied: Exchange<unknown>,
    req: OriginRequest,
    access: RegistryAccess,
    credentials: Credentials | undefined,
    defaultScope: string,
  ): Promise<{ authorization: string; rejected(): void } | undefined> {
    const challenge = parseChallenge(denied.headers['www-authenticate']);
    if (challenge?.scheme === 'bearer' && challenge.params.realm) {
      const scope = challenge.params.scope ?? defaultScope;
      const token = await this.#tokens.obtain({
        registry: req.registry,
        realm: challenge.params.realm,
        scope,
        ...(challenge.params.service !== undefined ? { service: challenge.params.service } : {}),
        ...(credentials ? { credentials } : {}),
        ...(access.caPem ? { caPem: access.caPem } : {}),
      });
      if (!token) return undefined;
      return { authorization: `Bearer ${token}`, rejected: () => this.#tokens.invalidate(req.registry, scope, token) };
    }
    if (challenge?.scheme === 'basic' && credentials) {
      this.#basicRegistries.add(req.registry);
      return { authorization: basicAuthorization(credentials.username, credentials.password), rejected: () => {} };
    }
    return undefined;
  }

  /** Sends the request, following redirects; Authorization only ever goes to the registry's own origin. */
  async #exchange<Body>(
    transport: Transport<Body>,
    url: string,
    req: OriginRequest,
    access: RegistryAccess,
    authorization?: string,
  ): Promise<Exchange<Body>> {
    const registryOrigin = new URL(url).origin;
    let current = new URL(url);
    for (let redirects = 0; ; redirects++) {
      const headers: Record<string, string | string[]> = { 'user-agent': USER_AGENT };
      if (req.accept?.length) headers.accept = req.accept;
      if (req.range) headers.range = req.range;
      if (authorization && current.origin === registryOrigin) headers.authorization = authorization;
      const started = performance.now();
      const res = await transport.send({
        url: current,
        method: req.method,
        headers,
        // The registry's CA also covers its redirect targets (e.g. private object storage behind the same CA).
        ...(access.caPem ? { caPem: access.caPem } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
      });
      this.#options.logger.debug(
        {
          registry: req.registry,
          repository: req.repository,
          kind: req.kind,
          reference: req.reference,
          method: req.method,
          host: current.host,
          status: res.status,
          duration_ms: Math.round(performance.now() - started),
        },
        'origin request',
      );
      const location = res.headers.location;
      if (!REDIRECT_STATUSES.has(res.status) || location === undefined) return { ...res, url: current.href };
      await transport.discard(res.body);
      if (redirects >= MAX_REDIRECTS) throw new OriginError('protocol', `more than ${MAX_REDIRECTS} redirects from ${url}`);
      current = new URL(location, current);
    }
  }
}

function credentialsOf(access: RegistryAccess): Credentials | undefined {
  return access.username !== undefined && access.password !== undefined
    ? { username: access.username, password: access.password }
    : undefined;
}

/** Reads a 401's (small) body so the connection is free for the retry, yet the body can still be returned. */
async function bufferBody<Body>(transport: Transport<Body>, exchange: Exchange<Body>): Promise<Exchange<Body>> {
  const bytes = await transport.readSmall(exchange.body, MAX_BUFFERED_401_BYTES);
  if (bytes) return { ...exchange, body: transport.bodyOf(bytes) };
  return { ...exchange, headers: { ...exchange.headers, 'content-length': '0' }, body: transport.bodyOf(Buffer.alloc(0)) };
}
