import { isIP } from 'node:net';
import { OciError } from '@flotilla/oci';

/** How the mirror picks the upstream registry of a request (configured once, from the daemon config). */
export interface UpstreamPolicy {
  /** Registry for requests that name none (docker's `registry-mirrors`). */
  defaultRegistry: string;
  /** First-path-segment aliases (skopeo/podman cannot send `ns`). */
  aliases: Record<string, string>;
  /** When non-empty, only these registries (plus the configured ones) may be reached. */
  allowed: string[];
  /** Registries named elsewhere in the config; always allowed. */
  configured: string[];
}

/** The upstream and the repository name as the upstream knows it. */
export interface Upstream {
  registry: string;
  repository: string;
}

const HOST_PORT = /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?)(?::\d{1,5})?$/;
/** `127.0.0.1-5000` → `127.0.0.1:5000`: the `:` is not allowed in a path component, so clients spell ports this way. */
const HOST_DASH_PORT = /^(.+)-(\d{1,5})$/;

/** Cloud metadata endpoints: a node-local mirror must never be turned into a proxy to them. */
const METADATA_HOSTS = new Set([
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'metadata.azure.com',
  'instance-data',
  'instance-data.ec2.internal',
  '100.100.100.200',
  '169.254.169.254',
  'fd00:ec2::254',
]);

/**
 * Resolves the upstream of a request: `?ns=` (containerd), else a first path segment that is an alias or looks like
 * a registry host (contains a dot, or is localhost — docker's own rule for "this component is a domain"), else the
 * default registry.
 */
export function resolveUpstream(name: string, ns: string | null, policy: UpstreamPolicy): Upstream {
  let registry: string;
  let repository = name;
  if (ns !== null) {
    registry = ns;
  } else {
    const slash = name.indexOf('/');
    const first = slash > 0 ? name.slice(0, slash) : '';
    const aliased = first ? (policy.aliases[first] ?? hostFromPathComponent(first)) : undefined;
    if (aliased) {
      registry = aliased;
      repository = name.slice(slash + 1);
    } else {
      registry = policy.defaultRegistry;
    }
  }
  registry = normalizeRegistry(registry);
  checkAllowed(registry, policy);
  if (registry === 'docker.io' && !repository.includes('/')) repository = `library/${repository}`;
  return { registry, repository };
}

/** docker.io has several spellings; keep one so caches and allow-lists agree. */
export function normalizeRegistry(registry: string): string {
  const lower = registry.toLowerCase();
  if (lower === 'index.docker.io' || lower === 'registry-1.docker.io') return 'docker.io';
  return lower;
}

function hostFromPathComponent(component: string): string | undefined {
  const m = HOST_DASH_PORT.exec(component);
  if (m && looksLikeHost(m[1]!)) return `${m[1]}:${m[2]}`;
  return looksLikeHost(component) ? component : undefined;
}

function looksLikeHost(s: string): boolean {
  return s.includes('.') || s === 'localhost';
}

function hostOf(registry: string): string {
  if (registry.startsWith('[')) return registry.slice(1, registry.indexOf(']'));
  const colon = registry.lastIndexOf(':');
  return colon > 0 ? registry.slice(0, colon) : registry;
}

function checkAllowed(registry: string, policy: UpstreamPolicy): void {
  if (!HOST_PORT.test(registry)) {
    throw new OciError(400, 'NAME_INVALID', `upstream registry "${registry.slice(0, 100)}" is not a valid HOST[:PORT]`);
  }
  const host = hostOf(registry);
  const port = registry.startsWith('[') ? registry.slice(registry.indexOf(']') + 2) : registry.slice(host.length + 1);
  if (port && Number(port) > 65535) {
    throw new OciError(400, 'NAME_INVALID', `upstream registry "${registry}" has an invalid port`);
  }
  if (METADATA_HOSTS.has(host) || isLinkLocal(host)) {
    throw new OciError(403, 'DENIED', `upstream registry "${registry}" is a link-local or metadata address`);
  }
  if (policy.allowed.length === 0) return;
  const permitted = [...policy.allowed, ...policy.configured, policy.defaultRegistry].map(normalizeRegistry);
  if (!permitted.includes(registry)) {
    throw new OciError(403, 'DENIED', `upstream registry "${registry}" is not in the allow-list`);
  }
}

function isLinkLocal(host: string): boolean {
  const family = isIP(host);
  if (family === 4) return host.startsWith('169.254.');
  if (family === 6) return /^fe[89ab][0-9a-f]:/i.test(host);
  return false;
}
