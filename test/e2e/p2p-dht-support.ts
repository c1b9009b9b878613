import { createHash } from 'node:crypto';
import {
  flotillaCommand,
  startFlotillaDaemon,
  startService,
  type DaemonLogLine,
  type FlotillaDaemon,
  type Service,
  waitFor,
} from '@flotilla/test';
import { defaultOriginArgs } from './support/origin.ts';

/** Helpers shared by the issue-4 e2e files (DHT, signed meta, several schedulers). */

export interface SwarmDaemon extends FlotillaDaemon {
  peerId: string;
  /** Its libp2p address with /p2p/<id>: what others pass to --bootstrap. */
  p2pAddress: string;
}

export interface SchedulerProcess {
  service: Service;
  peerId: string;
  /** libp2p address with /p2p/<id>: what daemons pass to --scheduler. */
  address: string;
  httpAddress: string;
  logs(): DaemonLogLine[];
}

/** A daemon with P2P on, mirroring `origin` over plain HTTP. */
export async function startSwarmDaemon(origin: string, args: string[] = [], options: { env?: NodeJS.ProcessEnv; dataDir?: string } = {}): Promise<SwarmDaemon> {
  const daemon = await startFlotillaDaemon({
    args: ['--p2p-listen', '/ip4/127.0.0.1/tcp/0', ...defaultOriginArgs(origin), ...args],
    ...(options.env ? { env: options.env } : {}),
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
  });
  const line = daemon.logs().find((l) => l.msg === 'p2p listening');
  const peerId = String(line?.['peerId']);
  const addresses = (line?.['addresses'] ?? []) as string[];
  const address = addresses[0] ?? '';
  return { ...daemon, peerId, p2pAddress: address.includes('/p2p/') ? address : `${address}/p2p/${peerId}` };
}

/** A scheduler process; `p2pPort` fixes its libp2p port (to restart it where daemons expect it). */
export async function startSchedulerProcess(dataDir: string, origin: string, args: string[] = [], p2pPort = 0): Promise<SchedulerProcess> {
  const { command, args: argv } = flotillaCommand([
    'scheduler',
    '--p2p-listen', `/ip4/127.0.0.1/tcp/${p2pPort}`,
    '--http-listen', '127.0.0.1:0',
    '--data-dir', dataDir,
    '--insecure-registry', origin,
    ...args,
  ]);
  const { service, match } = await startService(command, argv, { ready: /^.*"msg":"scheduler listening".*$/m });
  const line = JSON.parse(match![0]) as { addresses: string[]; peerId: string; http: string };
  const logs = (): DaemonLogLine[] =>
    service
      .output()
      .split('\n')
      .filter((text) => text.startsWith('{'))
      .map((text) => JSON.parse(text) as DaemonLogLine);
  return { service, peerId: line.peerId, address: line.addresses[0]!, httpAddress: line.http, logs };
}

/** Resolves once the daemon's DHT can answer lookups (a miss before that finds no provider). */
export async function bootstrapped(daemon: FlotillaDaemon): Promise<void> {
  await waitFor(() => daemon.logs().some((l) => l.msg === 'dht ready'), 10_000);
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface Pull {
  status: number;
  /** Digest of what arrived; undefined when the body was cut short. */
  digest: string | undefined;
  bytes: number;
  durationMs: number;
}

/** GETs a blob through a daemon's mirror, streaming (`onBytes` sees each chunk's size); a body cut short is reported, not thrown. */
export async function pullBlob(daemon: FlotillaDaemon, repository: string, digest: string, onBytes?: (n: number) => void): Promise<Pull> {
  const started = performance.now();
  const res = await fetch(`${daemon.url}/v2/${repository}/blobs/${digest}`);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for await (const chunk of res.body! as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      onBytes?.(chunk.byteLength);
    }
    return { status: res.status, digest: `sha256:${hash.digest('hex')}`, bytes, durationMs: performance.now() - started };
  } catch {
    return { status: res.status, digest: undefined, bytes: -1, durationMs: performance.now() - started };
  }
}

/** Pulls an image's manifest (by tag) and every blob it names, in order; returns the blobs' pulls by digest. */
export async function pullImage(daemon: FlotillaDaemon, repository: string, tag: string): Promise<Map<string, Pull>> {
  const res = await fetch(`${daemon.url}/v2/${repository}/manifests/${tag}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 200) throw new Error(`manifest ${repository}:${tag}: HTTP ${res.status}`);
  const manifest = (await res.json()) as { config: { digest: string }; layers: { digest: string }[] };
  const pulls = new Map<string, Pull>();
  for (const { digest } of [manifest.config, ...manifest.layers]) pulls.set(digest, await pullBlob(daemon, repository, digest));
  return pulls;
}

export function linesWith(daemon: { logs(): DaemonLogLine[] }, msg: string, fields: Record<string, unknown> = {}): DaemonLogLine[] {
  return daemon.logs().filter((l) => l.msg === msg && Object.entries(fields).every(([k, v]) => l[k] === v));
}
