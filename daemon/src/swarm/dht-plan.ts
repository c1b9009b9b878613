import type { Logger } from '@flotilla/log';
import type { P2PNode } from '@flotilla/p2p';
import { choosePieceLength, pieceCountFor, pieceMeta, type Parent, type SignedTaskMeta, type TaskAssignedResponse } from '@flotilla/wire';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import type { BlobFetchRequest } from '../blob/source.ts';
import type { PeerHealth } from './peer-health.ts';
import type { ProviderLookup } from './provider-lookup.ts';
import type { TrustedSchedulers } from './trust.ts';

/** A provider that does not answer `meta` within this long is skipped (a dead daemon on a real network: no RST). */
const META_TIMEOUT_MS = 500;

/** How to fetch a blob without a scheduler: the providers to use and what is known of its pieces. */
export interface DhtPlan {
  /** Shaped like a scheduler's assignment: meta (digests when trusted) and the providers as parents. */
  assignment: TaskAssignedResponse;
  /** No trusted signed meta: pieces are fetched unchecked and the blob is verified whole. */
  verifyWhole: boolean;
}

export interface DhtPlannerOptions {
  node: P2PNode;
  lookup: ProviderLookup;
  trust: TrustedSchedulers;
  health: PeerHealth;
  logger: Logger;
}

type Answer = { parent: Parent; size: number; signed?: SignedTaskMeta };

/**
 * With no scheduler reachable: looks the blob up in the DHT and asks its providers what they know of it, all at
 * once. Meta signed by a trusted scheduler gives piece digests; meta signed by anyone else is rejected, and the
 * blob is then verified whole. A provider that does not answer is skipped at once and marked for a while.
 */
export class DhtPlanner {
  readonly #o: DhtPlannerOptions;

  constructor(options: DhtPlannerOptions) {
    this.#o = options;
  }

  /** Undefined when no provider answers: the blob comes from the origin. */
  async plan(request: BlobFetchRequest): Promise<DhtPlan | undefined> {
    const digest = request.digest.value;
    const providers = await this.#o.lookup.find(request.digest);
    if (providers.length === 0) return undefined;
    const answers = await this.#ask(providers, digest, request.signal);
    const trusted = answers.find((a) => a.signed !== undefined);
    const size = trusted?.size ?? answers[0]?.size;
    if (size === undefined) {
      this.#o.logger.info({ digest, providers: providers.length }, 'no provider answered; blob from the origin');
      return undefined;
    }
    const parents = answers.filter((a) => a.size === size).map((a) => a.parent);
    const pieceLength = trusted?.signed?.meta.pieceLength ?? choosePieceLength(size);
    const pieceCount = pieceCountFor(size, pieceLength);
    const meta = trusted?.signed?.meta ?? { digest, size, pieceLength, pieceCount, pieceDigests: new Array<null>(pieceCount).fill(null) };
    this.#o.logger.info({ digest, bytes: size, providers: parents.map((p) => p.peerId), signed: trusted !== undefined }, 'blob from DHT providers');
    return {
      assignment: { type: 'task-assigned', meta, parents, ...(trusted?.signed ? { signature: trusted.signed.signature } : {}) },
      verifyWhole: trusted === undefined,
    };
  }

  /** Asks every provider at once; done at the first trusted signed answer, or when all have answered or failed. */
  async #ask(providers: Parent[], digest: string, signal: AbortSignal): Promise<Answer[]> {
    const answers: Answer[] = [];
    let pending = providers.length;
    const deadline = AbortSignal.any([AbortSignal.timeout(META_TIMEOUT_MS), signal]);
    await new Promise<void>((resolve) => {
      for (const parent of providers) {
        void this.#askOne(parent, digest, deadline, signal).then((answer) => {
          if (answer) answers.push(answer);
          if (--pending === 0 || answer?.signed) resolve();
        });
      }
    });
    return answers;
  }

  /** Never rejects; `cancelled` is the request's own signal (its abort is not the provider's fault). */
  async #askOne(parent: Parent, digest: string, signal: AbortSignal, cancelled: AbortSignal): Promise<Answer | undefined> {
    const { node, trust, health, logger } = this.#o;
    try {
      const peer = peerIdFromString(parent.peerId);
      if (parent.addresses.length > 0) await node.peerStore.merge(peer, { multiaddrs: parent.addresses.map((a) => multiaddr(a)) });
      const reply = await pieceMeta(node, peer, digest, { signal });
      if (reply.type === 'missing') return undefined; // a record older than the provider's copy
      if (!reply.signed) return { parent, size: reply.size };
      const rejected = await trust.reject(reply.signed);
      if (rejected === undefined) return { parent, size: reply.size, signed: reply.signed };
      logger.warn({ digest, peer: parent.peerId, signer: reply.signed.signature.signer, reason: rejected }, 'task meta rejected');
      return { parent, size: reply.size };
    } catch (err) {
      if (cancelled.aborted) return undefined;
      health.fault(parent.peerId, 'unreachable');
      logger.info({ digest, peer: parent.peerId, error: (err as Error).message }, 'provider unreachable; skipped');
      return undefined;
    }
  }
}
