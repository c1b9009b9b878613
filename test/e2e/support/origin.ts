import { randomBytes } from 'node:crypto';
import { pushBlob, startRegistry, type Registry } from '@flotilla/test';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/** A registry holding one random blob, reached through a forwarder capped at a rate (see startThrottledOrigin). */
export interface ThrottledOrigin {
  registry: Registry;
  proxy: TcpProxy;
  blob: Buffer;
  digest: string;
}

export interface ThrottledOriginOptions {
  size: number;
  /** The forwarder's cap: the download is still running when the test acts on it. */
  bytesPerSecond: number;
  repository: string;
  /** The registry's storage root (to restart it on the same data); a temp dir of its own otherwise. */
  root?: string;
}

/** Starts a registry, pushes a random blob of `size` to it and puts a throttled forwarder in front. */
export async function startThrottledOrigin(options: ThrottledOriginOptions): Promise<ThrottledOrigin> {
  const registry = await startRegistry(options.root === undefined ? {} : { root: options.root });
  const blob = randomBytes(options.size);
  const digest = await pushBlob(registry, options.repository, blob);
  const proxy = await startTcpProxy(registry.host, { bytesPerSecond: options.bytesPerSecond });
  return { registry, proxy, blob, digest };
}

/** The daemon flags that make `host` (plain http) the upstream of requests without `ns`. */
export function defaultOriginArgs(host: string): string[] {
  return ['--default-registry', host, '--insecure-registry', host];
}
