import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestOf, MediaType } from '@flotilla/oci';
import { runChecked } from './command.ts';
import { prefixedCommand, startService, type Service } from './process.ts';

/** A running docker-registry (CNCF distribution 2.8) on 127.0.0.1. */
export interface Registry {
  /** "http://127.0.0.1:PORT" */
  url: string;
  /** "127.0.0.1:PORT" */
  host: string;
  /** Storage root directory. */
  root: string;
  stop(): Promise<void>;
  kill(): Promise<void>;
  service: Service;
}

export type RegistryAuthConfig =
  | { kind: 'htpasswd'; users: Record<string, string> }
  | { kind: 'token'; realm: string; service: string; issuer: string; rootCertBundlePath: string };

export interface RegistryOptions {
  auth?: RegistryAuthConfig;
  /** Run as a pull-through cache of this registry (proxy.remoteurl): the benchmark baseline. */
  proxyRemoteUrl?: string;
  /** Storage dir; default a fresh temp dir, removed on stop/kill. */
  root?: string;
  /** The combined access log, which registryRequests() reads (default true). */
  accessLog?: boolean;
  /** Run the registry through this prefix, e.g. `ip netns exec NS` (its 127.0.0.1 is then the namespace's). */
  commandPrefix?: string[];
}

/** One request the registry answered, from its access log. */
export interface RegistryRequest {
  method: string;
  /** Path and query, as the client sent it. */
  path: string;
  status: number;
}

const requestLogs = new WeakMap<Registry, RegistryRequest[]>();

/** Starts `docker-registry serve` on a free loopback port and waits until it listens. */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-registry-'));
  const root = options.root ?? join(dir, 'data');
  const accessLog = options.accessLog ?? true;
  const config: Record<string, unknown> = {
    version: '0.1',
    log: { level: 'info', accesslog: { disabled: !accessLog } },
    storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
    http: { addr: '127.0.0.1:0' },
  };
  if (options.auth) config.auth = await authConfig(options.auth, dir);
  if (options.proxyRemoteUrl) config.proxy = { remoteurl: options.proxyRemoteUrl };
  const configPath = join(dir, 'config.yml');
  // YAML is a superset of JSON, so the config needs no YAML writer.
  await writeFile(configPath, JSON.stringify(config, null, 2));

  const { command, args } = prefixedCommand(options.commandPrefix, 'docker-registry', ['serve', configPath]);
  const { service, match } = await startService(command, args, {
    ready: /listening on 127\.0\.0\.1:(\d+)/,
  });
  const host = `127.0.0.1:${match![1]}`;
  const removeOwnFiles = () => rm(dir, { recursive: true, force: true });
  const registry: Registry = {
    url: `http://${host}`,
    host,
    root,
    service,
    stop: () => service.stop().then(removeOwnFiles),
    kill: () => service.kill().then(removeOwnFiles),
  };
  if (accessLog) requestLogs.set(registry, collectAccessLog(service));
  return registry;
}

/** Every request the registry answered so far (lines appear once a response is complete). */
export function registryRequests(registry: Registry): RegistryRequest[] {
  const log = requestLogs.get(registry);
  if (!log) throw new Error('registryRequests needs a registry started with accessLog enabled');
  return [...log];
}

async function authConfig(auth: RegistryAuthConfig, dir: string): Promise<Record<string, unknown>> {
  if (auth.kind === 'token') {
    const { realm, service, issuer, rootCertBundlePath } = auth;
    return { token: { realm, service, issuer, rootcertbundle: rootCertBundlePath } };
  }
  // Only bcrypt entries work with distribution; cost 4 keeps startup fast.
  const lines: string[] = [];
  for (const [user, password] of Object.entries(auth.users)) {
    lines.push((await runChecked('htpasswd', ['-nbB', '-C', '4', user, password])).stdout.trim());
  }
  const path = join(dir, 'htpasswd');
  await writeFile(path, `${lines.join('\n')}\n`);
  return { htpasswd: { realm: 'flotilla-test', path } };
}

/**
 * Parses the combined-format access log (`"GET /v2/... HTTP/1.1" 200 ...`). The structured "response completed"
 * lines are not enough: requests rejected by auth never get one.
 */
function collectAccessLog(service: Service): RegistryRequest[] {
  const requests: RegistryRequest[] = [];
  const line = /^\S+ - \S+ \[[^\]]*\] "(\S+) (\S+) HTTP\/[\d.]+" (\d{3}) /;
  for (const stream of [service.child.stdout, service.child.stderr]) {
    let pending = '';
    stream?.on('data', (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop()!;
      for (const text of lines) {
        const m = line.exec(text);
        if (m) requests.push({ method: m[1]!, path: m[2]!, status: Number(m[3]) });
      }
    });
  }
  return requests;
}

// ---- Pushing test content over plain HTTP ----

/** Credentials for pushing; works against htpasswd (Basic) and token (Bearer) registries. */
export interface RegistryCredentials {
  username: string;
  password: string;
}

/** Uploads a blob monolithically (POST, then PUT ?digest=); returns its digest. */
export async function pushBlob(
  registry: Registry,
  repository: string,
  bytes: Buffer,
  auth?: RegistryCredentials,
): Promise<string> {
  const digest = digestOf(bytes);
  const headers = await pushHeaders(registry, repository, auth);
  const started = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST', headers });
  await expectStatus(started, 202, `starting upload to ${repository}`);
  const location = new URL(started.headers.get('location')!, registry.url);
  location.searchParams.set('digest', digest);
  const done = await fetch(location, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  await expectStatus(done, 201, `uploading ${digest} to ${repository}`);
  return digest;
}

/** PUTs a manifest under `reference` (tag or digest); returns its digest. */
export async function pushManifest(
  registry: Registry,
  repository: string,
  reference: string,
  manifest: Buffer,
  options: { mediaType?: string; auth?: RegistryCredentials } = {},
): Promise<string> {
  const headers = await pushHeaders(registry, repository, options.auth);
  const res = await fetch(`${registry.url}/v2/${repository}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': options.mediaType ?? MediaType.ociManifest },
    body: manifest,
  });
  await expectStatus(res, 201, `pushing manifest ${repository}:${reference}`);
  return digestOf(manifest);
}

/** A pushed image's manifest and blobs, with their bytes for comparison. */
export interface PushedTestImage {
  manifestDigest: string;
  manifest: Buffer;
  config: { digest: string; bytes: Buffer };
  layers: Array<{ digest: string; bytes: Buffer }>;
}

/** Pushes an OCI image with random (incompressible) layers of the given sizes under `tag`. */
export async function pushRandomImage(
  registry: Registry,
  repository: string,
  tag: string,
  options: { layerSizes: number[]; auth?: RegistryCredentials },
): Promise<PushedTestImage> {
  const layers: PushedTestImage['layers'] = [];
  for (const size of options.layerSizes) {
    const bytes = randomBytes(size);
    layers.push({ digest: await pushBlob(registry, repository, bytes, options.auth), bytes });
  }
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const config = { digest: await pushBlob(registry, repository, configBytes, options.auth), bytes: configBytes };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: config.digest, size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: MediaType.ociLayerGzip, digest: l.digest, size: l.bytes.length })),
    }),
  );
  const manifestDigest = await pushManifest(registry, repository, tag, manifest, options.auth ? { auth: options.auth } : {});
  return { manifestDigest, manifest, config, layers };
}

/** Authorization for pushing: probes /v2/ and answers a Basic or Bearer (token, pull+push scope) challenge. */
async function pushHeaders(
  registry: Registry,
  repository: string,
  auth?: RegistryCredentials,
): Promise<Record<string, string>> {
  if (!auth) return {};
  const basic = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  const probe = await fetch(`${registry.url}/v2/`);
  await probe.arrayBuffer();
  const challenge = probe.headers.get('www-authenticate') ?? '';
  if (!/^bearer /i.test(challenge)) return { authorization: basic };
  const param = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(challenge)?.[1];
  const realm = new URL(param('realm')!);
  realm.searchParams.set('service', param('service') ?? '');
  realm.searchParams.set('scope', `repository:${repository}:pull,push`);
  const res = await fetch(realm, { headers: { authorization: basic } });
  const { token } = JSON.parse(await expectStatus(res, 200, `fetching a push token from ${realm.origin}`)) as { token: string };
  return { authorization: `Bearer ${token}` };
}

/** Reads the whole response (freeing the connection) and throws unless it has the expected status. */
async function expectStatus(res: Response, status: number, what: string): Promise<string> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${what}: HTTP ${res.status} ${text}`);
  return text;
}
