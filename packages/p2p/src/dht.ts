import { kadDHT, passthroughMapper, type KadDHT, type KadDHTComponents } from '@libp2p/kad-dht';
import { CID } from 'multiformats/cid';
import * as raw from 'multiformats/codecs/raw';
import * as Digest from 'multiformats/hashes/digest';

/** Our own DHT: peers of the public IPFS DHT never join it (and the swarm key keeps outsiders off anyway). */
export const DHT_PROTOCOL = '/flotilla/kad/1.0.0';

export interface DhtOptions {
  /**
   * How long provider records stay valid: every node drops the records it stores once they are this old (checked
   * every quarter of it), so records of daemons that evicted a blob or went away age out. Providers renew theirs
   * well within it. Default 1 h.
   */
  providerValidityMs?: number;
}

export const DEFAULT_PROVIDER_VALIDITY_MS = 60 * 60 * 1000;

/** The DHT service as the node runs it (the routing table size tells whether a lookup can find anything). */
export interface ClusterDht extends KadDHT {
  readonly routingTable: { readonly size: number };
}

/**
 * kad-dht for a private cluster: always a server (it would stay a client until it saw a public address), every
 * address kept (the default mapper drops private and loopback ones, and the routing table stays empty), and the
 * first self-query at once instead of after a second, since lookups wait for it.
 */
export function clusterDht(options: DhtOptions = {}): (components: KadDHTComponents) => ClusterDht {
  const validityMs = options.providerValidityMs ?? DEFAULT_PROVIDER_VALIDITY_MS;
  const factory = kadDHT({
    protocol: DHT_PROTOCOL,
    clientMode: false,
    peerInfoMapper: passthroughMapper,
    initialQuerySelfInterval: 0,
    // Expiry of stored records (and renewal of our own in their second half) happens in the reprovider's passes.
    reprovide: { validity: validityMs, threshold: validityMs / 2, interval: Math.max(60_000, validityMs / 4) },
  });
  // The instance is a single-table KadDHT; its declared type leaves the routing table out.
  return factory as (components: KadDHTComponents) => ClusterDht;
}

/** Multihash codes of the digest algorithms OCI uses. */
const MULTIHASH_CODES = { sha256: 0x12, sha512: 0x13 } as const;

/**
 * The DHT key of a blob or manifest: CIDv1, raw codec, over the content digest's own multihash. Lookups match on
 * the multihash only, so any daemon derives the same key from `sha256:<hex>`.
 */
export function contentKey(digest: { algorithm: keyof typeof MULTIHASH_CODES; hex: string }): CID {
  return CID.createV1(raw.code, Digest.create(MULTIHASH_CODES[digest.algorithm], Buffer.from(digest.hex, 'hex')));
}
