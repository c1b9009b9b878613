import {
  DigestError,
  OciError,
  isValidRepositoryName,
  isValidTag,
  looksLikeDigest,
  parseDigest,
  type Digest,
} from '@flotilla/oci';
import { resolveUpstream, type UpstreamPolicy } from './upstream.ts';

/** A mirror request, validated: everything past this point may trust its fields. */
export type MirrorRoute =
  | { kind: 'health' }
  | { kind: 'ping' }
  | {
      kind: 'manifest';
      registry: string;
      repository: string;
      /** Set when the reference is a digest; otherwise `tag` is. */
      digest?: Digest;
      tag?: string;
    }
  | { kind: 'blob'; registry: string; repository: string; digest: Digest };

const READ_METHODS = new Set(['GET', 'HEAD']);

/**
 * Parses the request line into a route, or throws the OciError the client should get.
 * This is the only place that looks at raw paths: `%`-escapes, `..` and empty segments are refused here, since no valid
 * repository name, tag or digest contains them.
 */
export function parseRoute(method: string, rawUrl: string, policy: UpstreamPolicy): MirrorRoute {
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1));

  if (path === '/healthz') {
    requireRead(method);
    return { kind: 'health' };
  }
  if (path === '/v2' || path === '/v2/') {
    requireRead(method);
    return { kind: 'ping' };
  }
  if (!path.startsWith('/v2/')) throw new OciError(404, 'NAME_UNKNOWN', 'not a registry API path');
  if (path.includes('%') || path.includes('//') || path.includes('\\') || /(^|\/)\.\.?(\/|$)/.test(path)) {
    throw new OciError(400, 'NAME_INVALID', 'path contains escapes, empty or dot segments');
  }

  const rest = path.slice(4);
  const match = /^(.+)\/(manifests|blobs)\/([^/]+)$/.exec(rest);
  if (!match) {
    if (!READ_METHODS.has(method) || rest.includes('/blobs/uploads')) throw pushRefused(method);
    throw new OciError(404, 'UNSUPPORTED', 'only manifests and blobs are served by this mirror');
  }
  if (!READ_METHODS.has(method)) throw pushRefused(method);
  const [, name, kind, reference] = match as unknown as [string, string, 'manifests' | 'blobs', string];
  if (kind === 'blobs' && reference === 'uploads') throw pushRefused(method);

  if (!isValidRepositoryName(name)) {
    throw new OciError(400, 'NAME_INVALID', `invalid repository name "${name.slice(0, 100)}"`);
  }
  const ns = query.get('ns');
  const { registry, repository } = resolveUpstream(name, ns, policy);
  if (!isValidRepositoryName(repository)) {
    throw new OciError(400, 'NAME_INVALID', `invalid repository name "${repository.slice(0, 100)}"`);
  }

  if (kind === 'blobs') return { kind: 'blob', registry, repository, digest: digestOrThrow(reference) };
  if (looksLikeDigest(reference)) {
    return { kind: 'manifest', registry, repository, digest: digestOrThrow(reference) };
  }
  if (!isValidTag(reference)) throw new OciError(400, 'MANIFEST_INVALID', `invalid tag "${reference.slice(0, 130)}"`);
  return { kind: 'manifest', registry, repository, tag: reference };
}

function digestOrThrow(reference: string): Digest {
  try {
    return parseDigest(reference);
  } catch (err) {
    if (err instanceof DigestError) throw new OciError(400, 'DIGEST_INVALID', err.message);
    throw err;
  }
}

function requireRead(method: string): void {
  if (!READ_METHODS.has(method)) throw pushRefused(method);
}

function pushRefused(method: string): OciError {
  return new OciError(405, 'UNSUPPORTED', `${method} is not supported: this is a pull-only mirror`, {
    allow: 'GET, HEAD',
  });
}
