import { lookup as dnsLookup } from 'node:dns/promises';
import type { Logger } from '@flotilla/log';
import type { Libp2p, PeerId } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';

/** Resolves a host name to every address it has (a Kubernetes headless Service answers with one per pod). */
export type HostLookup = (host: string, family: 0 | 4 | 6) => Promise<Array<{ address: string; family: number }>>;

export interface BootstrapOptions {
  node: Pick<Libp2p, 'dial' | 'getConnections' | 'getMultiaddrs'>;
  /** Multiaddrs (`/ip4/...`, `/dns/NAME/tcp/PORT`, with or without `/p2p/ID`). */
  targets: readonly string[];
  logger: Logger;
  lookup?: HostLookup;
  /** First retry of an address that failed; doubles per failure up to maxRetryMs. Default 500 ms. */
  minRetryMs?: number;
  /** Default 10 s: a peer that restarts is found again within about this long. */
  maxRetryMs?: number;
  /** How often a connected bootstrap peer is checked (and names are resolved again). Default 10 s. */
  recheckMs?: number;
  dialTimeoutMs?: number;
}

/** One address a target resolved to, with its retry state. */
interface Endpoint {
  address: Multiaddr;
  peer: PeerId | undefined;
  failures: number;
  nextAt: number;
}

const DNS_PROTOCOLS: Record<string, 0 | 4 | 6> = { dns: 0, dns4: 4, dns6: 6 };

/**
 * Keeps the node connected to its bootstrap peers (schedulers, `--bootstrap`): the DHT fills its routing table from
 * them. Not one shot — peers that start later or restart are dialed again with backoff, and names are resolved
 * again on every round, so a headless Service's new pods are picked up.
 */
export class Bootstrapper {
  readonly #o: Required<Omit<BootstrapOptions, 'lookup'>> & { lookup: HostLookup };
  readonly #endpoints = new Map<string, Endpoint>();
  readonly #stopped = new AbortController();
  #resolvedAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<void> | undefined;

  constructor(options: BootstrapOptions) {
    this.#o = {
      minRetryMs: 500,
      maxRetryMs: 10_000,
      recheckMs: 10_000,
      dialTimeoutMs: 5_000,
      lookup: (host, family) => dnsLookup(host, { all: true, family }),
      ...options,
    };
  }

  start(): void {
    if (this.#o.targets.length > 0) this.#schedule(0);
  }

  /** Resolves when the current round (if any) is over. */
  async stop(): Promise<void> {
    this.#stopped.abort();
    clearTimeout(this.#timer);
    await this.#round;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#round = this.#runRound().finally(() => (this.#round = undefined));
    }, delayMs);
    this.#timer.unref();
  }

  async #runRound(): Promise<void> {
    const now = Date.now();
    if (now - this.#resolvedAt >= this.#o.recheckMs) {
      this.#resolvedAt = now;
      await this.#resolve();
    }
    const own = new Set(this.#o.node.getMultiaddrs().map((a) => withoutPeer(a).toString()));
    const due = [...this.#endpoints.values()].filter((e) => e.nextAt <= now && !own.has(withoutPeer(e.address).toString()));
    await Promise.all(due.map((endpoint) => this.#visit(endpoint)));
    const next = Math.min(...[...this.#endpoints.values()].map((e) => e.nextAt), Date.now() + this.#o.recheckMs);
    this.#schedule(Math.max(50, next - Date.now()));
  }

  /** Targets → endpoints; a name's addresses that went away are dropped, new ones are dialed at once. */
  async #resolve(): Promise<void> {
    const seen = new Set<string>();
    for (const target of this.#o.targets) {
      for (const address of await this.#addressesOf(target)) {
        const key = address.toString();
        seen.add(key);
        if (!this.#endpoints.has(key)) this.#endpoints.set(key, { address, peer: undefined, failures: 0, nextAt: 0 });
      }
    }
    for (const key of this.#endpoints.keys()) if (!seen.has(key)) this.#endpoints.delete(key);
  }

  async #addressesOf(target: string): Promise<Multiaddr[]> {
    const address = multiaddr(target);
    const [first, ...rest] = address.getComponents();
    const family = first === undefined ? undefined : DNS_PROTOCOLS[first.name];
    if (first?.value === undefined || family === undefined) return [address];
    try {
      const records = await this.#o.lookup(first.value, family);
      const tail = multiaddr(rest);
      return records.map((r) => multiaddr(`/${r.family === 6 ? 'ip6' : 'ip4'}/${r.address}`).encapsulate(tail));
    } catch (err) {
      this.#o.logger.debug({ target, error: (err as Error).message }, 'bootstrap name did not resolve');
      return [];
    }
  }

  /** Dials an endpoint unless we are still connected to the peer it led to. */
  async #visit(endpoint: Endpoint): Promise<void> {
    const { node, logger } = this.#o;
    if (endpoint.peer && node.getConnections(endpoint.peer).length > 0) {
      endpoint.nextAt = Date.now() + this.#o.recheckMs;
      return;
    }
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.#o.dialTimeoutMs), this.#stopped.signal]);
      const connection = await node.dial(endpoint.address, { signal });
      if (endpoint.failures > 0 || endpoint.peer === undefined) {
        logger.info({ address: endpoint.address.toString(), peer: connection.remotePeer.toString() }, 'bootstrap peer connected');
      }
      endpoint.peer = connection.remotePeer;
      endpoint.failures = 0;
      endpoint.nextAt = Date.now() + this.#o.recheckMs;
    } catch (err) {
      if (this.#stopped.signal.aborted) return;
      endpoint.failures++;
      const delay = Math.min(this.#o.maxRetryMs, this.#o.minRetryMs * 2 ** (endpoint.failures - 1));
      endpoint.nextAt = Date.now() + delay;
      if (endpoint.failures === 1) {
        logger.debug({ address: endpoint.address.toString(), error: (err as Error).message, retry_in_ms: delay }, 'bootstrap peer unreachable');
      }
    }
  }
}

function withoutPeer(address: Multiaddr): Multiaddr {
  return multiaddr(address.getComponents().filter((c) => c.name !== 'p2p'));
}
