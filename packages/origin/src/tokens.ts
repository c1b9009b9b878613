import type { Logger } from '@flotilla/log';
import { request } from 'undici';
import type { Credentials } from './docker-config.ts';
import type { Dispatchers } from './dispatchers.ts';
import { basicAuthorization, readLimited } from './http.ts';

/** Where and how to ask for a Bearer token, from a registry's `WWW-Authenticate: Bearer` challenge. */
export interface TokenRequest {
  registry: string;
  realm: string;
  service?: string;
  scope: string;
  credentials?: Credentials;
  caPem?: string;
}

export interface TokenCacheOptions {
  dispatchers: Dispatchers;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  logger: Logger;
}

interface CachedToken {
  token: string;
  validUntilMs: number;
}

/** The distribution spec's default when a token server omits expires_in. */
const DEFAULT_EXPIRES_IN_S = 60;
/** Stop using a token this long before it expires (at most half its lifetime), so it never expires in flight. */
const EXPIRY_MARGIN_MS = 10_000;
const MAX_TOKEN_RESPONSE_BYTES = 1 << 20;

/**
 * Bearer tokens per (registry, scope): fetched from the challenge's realm, reused until shortly before expiry, and
 * fetched once for any number of concurrent requests that need the same one.
 */
export class TokenCache {
  readonly #options: TokenCacheOptions;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inflight = new Map<string, Promise<string | undefined>>();

  constructor(options: TokenCacheOptions) {
    this.#options = options;
  }

  /** A still-valid token for (registry, scope), without fetching. */
  cached(registry: string, scope: string): string | undefined {
    const key = cacheKey(registry, scope);
    const entry = this.#tokens.get(key);
    if (entry && entry.validUntilMs > Date.now()) return entry.token;
    if (entry) this.#tokens.delete(key);
    return undefined;
  }

  /** Forgets `token` when the registry rejected it (unless a newer token replaced it meanwhile). */
  invalidate(registry: string, scope: string, token: string): void {
    const key = cacheKey(registry, scope);
    if (this.#tokens.get(key)?.token === token) this.#tokens.delete(key);
  }

  /** A cached or freshly fetched token; undefined when the token server refused or failed (already logged). */
  obtain(req: TokenRequest): Promise<string | undefined> {
    const cached = this.cached(req.registry, req.scope);
    if (cached) return Promise.resolve(cached);
    const key = cacheKey(req.registry, req.scope);
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#fetch(req).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #fetch(req: TokenRequest): Promise<string | undefined> {
    const { dispatchers, firstByteTimeoutMs, idleTimeoutMs, logger } = this.#options;
    const started = performance.now();
    const log = { registry: req.registry, scope: req.scope };
    try {
      const url = new URL(req.realm);
      if (req.service) url.searchParams.set('service', req.service);
      url.searchParams.set('scope', req.scope);
      const headers: Record<string, string> = {};
      if (req.credentials) headers.authorization = basicAuthorization(req.credentials.username, req.credentials.password);
      const res = await request(url, {
        dispatcher: dispatchers.for(url.origin, req.caPem),
        method: 'GET',
        headers,
        headersTimeout: firstByteTimeoutMs,
        bodyTimeout: idleTimeoutMs,
      });
      const body = await readLimited(res.body, MAX_TOKEN_RESPONSE_BYTES);
      const duration_ms = Math.round(performance.now() - started);
      if (res.statusCode !== 200 || !body) {
        logger.warn({ ...log, status: res.statusCode, duration_ms }, 'token request refused');
        return undefined;
      }
      const parsed = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown; expires_in?: unknown };
      const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : parsed.access_token;
      if (typeof token !== 'string' || !token) {
        logger.warn({ ...log, duration_ms }, 'token response without a token');
        return undefined;
      }
      const expiresInMs =
        (typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_EXPIRES_IN_S) * 1000;
      const margin = Math.min(EXPIRY_MARGIN_MS, expiresInMs / 2);
      this.#prune();
      this.#tokens.set(cacheKey(req.registry, req.scope), { token, validUntilMs: Date.now() + expiresInMs - margin });
      logger.info({ ...log, duration_ms }, 'token fetched');
      return token;
    } catch (err) {
      const duration_ms = Math.round(performance.now() - started);
      logger.warn({ ...log, duration_ms, err: err instanceof Error ? err.message : String(err) }, 'token request failed');
      return undefined;
    }
  }

  /** Drops expired tokens so the cache stays bounded by the scopes in active use. */
  #prune(): void {
    const now = Date.now();
    for (const [key, entry] of this.#tokens) if (entry.validUntilMs <= now) this.#tokens.delete(key);
  }
}

function cacheKey(registry: string, scope: string): string {
  return `${registry} ${scope}`;
}
