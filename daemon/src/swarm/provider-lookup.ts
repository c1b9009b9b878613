import type { Logger } from '@flotilla/log';
import type { Digest } from '@flotilla/oci';
import { contentKey, type P2PNode } from '@flotilla/p2p';
import type { Parent } from '@flotilla/wire';
import type { PeerHealth } from './peer-health.ts';

/** A digest nobody provides is not looked up again for this long (misses of one image's layers come in bursts). */
const NEGATIVE_TTL_MS = 3_000;
/** Enough providers to spread a blob over; the lookup stops once it has them. */
const MAX_PROVIDERS = 8;
/** Once a provider is known, how long the query may go on finding more (it would run to the deadline). */
const MORE_PROVIDERS_MS = 10;

export interface ProviderLookupOptions {
  node: P2PNode;
  /** --dht-lookup-timeout: the lookup returns what it found by then. */
  timeoutMs: number;
  health: PeerHealth;
  logger: Logger;
}

/**
 * Finds daemons that provide a blob in the DHT, within a short deadline: ourselves, peers that failed lately and
 * `exclude` are left out. An empty answer is remembered briefly, and a daemon connected to nobody does not look.
 */
export class ProviderLookup {
  readonly #o: ProviderLookupOptions;
  readonly #self: string;
  readonly #none = new Map<string, number>();

  constructor(options: ProviderLookupOptions) {
    this.#o = options;
    this.#self = options.node.peerId.toString();
  }

  async find(digest: Digest, options: { exclude?: readonly string[] } = {}): Promise<Parent[]> {
    const { node } = this.#o;
    const dht = node.services.dht;
    const now = Date.now();
    if (!dht || (this.#none.get(digest.value) ?? 0) > now) return [];
    // Not connected to anyone: nothing to find. Connected but the routing table still empty (identify under way
    // right after startup): the lookup waits for it, within the deadline.
    if (dht.routingTable.size === 0 && node.getConnections().length === 0) return [];
    const skip = new Set([this.#self, ...(options.exclude ?? [])]);
    const found = new Map<string, Parent>();
    const started = performance.now();
    const enough = new AbortController();
    let grace: NodeJS.Timeout | undefined;
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(this.#o.timeoutMs), enough.signal]);
      for await (const event of dht.findProviders(contentKey(digest), { signal })) {
        if (event.name !== 'PROVIDER') continue;
        for (const provider of event.providers) {
          const peerId = provider.id.toString();
          if (skip.has(peerId) || this.#o.health.isBad(peerId)) continue;
          found.set(peerId, { peerId, addresses: provider.multiaddrs.map(String) });
        }
        if (found.size >= MAX_PROVIDERS) break;
        if (found.size > 0) grace ??= setTimeout(() => enough.abort(), MORE_PROVIDERS_MS);
      }
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError' && (err as Error).name !== 'AbortError') {
        this.#o.logger.debug({ digest: digest.value, error: (err as Error).message }, 'provider lookup failed');
      }
    }
    clearTimeout(grace);
    const providers = [...found.values()];
    this.#o.logger.debug({ digest: digest.value, providers: providers.length, duration_ms: round(performance.now() - started) }, 'provider lookup');
    if (providers.length > 0) this.#none.delete(digest.value);
    else this.#remember(digest.value, Date.now());
    return providers;
  }

  #remember(digest: string, now: number): void {
    if (this.#none.size >= 1_000) for (const [d, until] of this.#none) if (until <= now) this.#none.delete(d);
    this.#none.set(digest, now + NEGATIVE_TTL_MS);
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
