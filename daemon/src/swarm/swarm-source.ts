import type { Logger } from '@flotilla/log';
import type { OriginClient } from '@flotilla/origin';
import type { P2PNode } from '@flotilla/p2p';
import type { TokenBucket } from '@flotilla/ratelimit';
import { DigestMismatchError, type BlobWriter } from '@flotilla/store';
import type { SignedTaskMeta, TaskAssignedResponse } from '@flotilla/wire';
import type { BlobFetchRequest, BlobSource, StartedFetch } from '../blob/source.ts';
import type { ActiveDownloads } from './active-downloads.ts';
import type { DhtPlanner } from './dht-plan.ts';
import type { SignedMetaStore } from './meta-store.ts';
import type { PeerHealth } from './peer-health.ts';
import { PieceDownload } from './piece-download.ts';
import type { ProviderLookup } from './provider-lookup.ts';
import { NO_SCHEDULER, type SchedulerLink } from './scheduler-client.ts';
import type { SchedulerPool } from './scheduler-pool.ts';
import type { SwarmMembership } from './swarm-members.ts';
import type { TrustedSchedulers } from './trust.ts';

export interface SwarmSourceOptions {
  node: P2PNode;
  /** Undefined: no --scheduler, the DHT only. */
  schedulers: SchedulerPool | undefined;
  /** Providers in the DHT, for misses no scheduler can take. */
  dht: DhtPlanner;
  lookup: ProviderLookup;
  /** Announces each download in its blob's swarm, so the swarm can regroup if its scheduler goes away. */
  membership: SwarmMembership;
  health: PeerHealth;
  trust: TrustedSchedulers;
  metas: SignedMetaStore;
  /** Used for whole blobs the swarm will not serve (back-to-source, nobody reachable). */
  fallback: BlobSource;
  /** Used for single pieces nobody in the swarm delivers in time. */
  origin: OriginClient;
  active: ActiveDownloads;
  downloadBucket: TokenBucket;
  piecesInFlight: number;
  pieceTimeoutMs: number;
  logger: Logger;
}

/** A download's coordinates: the scheduler's assignment, or DHT providers. */
interface Plan {
  assignment: TaskAssignedResponse;
  scheduler: SchedulerLink;
  verifyWhole: boolean;
}

/**
 * Fetches a blob's pieces from other daemons. The scheduler names the parents; when no scheduler is reachable
 * the DHT names providers; when it says "go to the source", or nobody answers, the origin source takes the writer.
 */
export class SwarmBlobSource implements BlobSource {
  readonly name = 'swarm';
  readonly #o: SwarmSourceOptions;

  constructor(options: SwarmSourceOptions) {
    this.#o = options;
  }

  async start(request: BlobFetchRequest, writer: BlobWriter): Promise<StartedFetch> {
    const plan = await this.#plan(request);
    if (!plan) return this.#o.fallback.start(request, writer);
    const { node, origin, downloadBucket, piecesInFlight, pieceTimeoutMs, active, health, membership, logger } = this.#o;
    const { meta } = plan.assignment;
    const blob = active.start(meta, writer);
    membership.join(meta.digest);
    const download = new PieceDownload({
      node,
      origin,
      downloadBucket,
      piecesInFlight,
      inFlightShare: (total) => active.inFlightShare(total),
      pieceTimeoutMs,
      request,
      assignment: plan.assignment,
      writer,
      scheduler: plan.scheduler,
      verifyWhole: plan.verifyWhole,
      findParents: (exclude) => this.#o.lookup.find(request.digest, { exclude, members: true }),
      onParentDropped: (peerId, reason) => health.fault(peerId, reason === 'corrupt' ? 'corrupt' : 'unreachable'),
      onSignedMeta: (signed) => void this.#keep(signed),
      onPiece: (index) => active.pieceWritten(blob, index),
      logger,
    });
    const done = download
      .run()
      .then(() => this.#verifyWhole(download, writer))
      .then(
        () => active.finished(blob),
        (err: unknown) => {
          active.failed(blob);
          throw err;
        },
      )
      .finally(() => membership.leave(meta.digest));
    return { source: this.name, size: meta.size, done };
  }

  async #plan(request: BlobFetchRequest): Promise<Plan | undefined> {
    const assigned = await this.#assignment(request);
    if (assigned === 'origin') return undefined;
    if (assigned) return { ...assigned, verifyWhole: false };
    const viaDht = await this.#o.dht.plan(request);
    return viaDht && { ...viaDht, scheduler: NO_SCHEDULER };
  }

  /**
   * The assignment of the blob's scheduler (the first live one in its rendezvous order); 'origin' when it sends
   * the blob back to the source; undefined when no scheduler is configured or reachable (the DHT is asked next).
   */
  async #assignment(request: BlobFetchRequest): Promise<{ assignment: TaskAssignedResponse; scheduler: SchedulerLink } | 'origin' | undefined> {
    const { schedulers, logger } = this.#o;
    const digest = request.digest.value;
    const route = schedulers?.route(digest);
    if (!route || route.isDown) return undefined;
    let answer;
    try {
      answer = await route.call({
        type: 'task',
        digest,
        registry: request.registry,
        repository: request.repository,
        ...(request.authorization ? { authorization: request.authorization } : {}),
      });
    } catch (err) {
      logger.warn({ digest, error: (err as Error).message }, 'scheduler unavailable; looking for providers');
      return undefined;
    }
    if (answer.type === 'task-assigned' && answer.meta.digest === digest) return { assignment: answer, scheduler: route };
    const reason = answer.type === 'back-to-source' ? answer.reason : answer.type === 'error' ? `${answer.code}: ${answer.message}` : 'wrong digest';
    logger.info({ digest, reason }, 'blob from the origin (scheduler said back to source)');
    return 'origin';
  }

  /**
   * Pieces no digest checked: the store's whole-blob check decides. On a mismatch the senders are marked bad (the
   * client's response is cut before its end and its retry goes to the origin).
   */
  async #verifyWhole(download: PieceDownload, writer: BlobWriter): Promise<void> {
    const suspects = download.unverifiedPeers;
    if (suspects.size === 0) return;
    try {
      await writer.verify();
    } catch (err) {
      if (err instanceof DigestMismatchError) {
        for (const peer of suspects) this.#o.health.fault(peer, 'corrupt');
        this.#o.logger.warn({ digest: writer.digest.value, providers: [...suspects] }, 'blob from providers does not match its digest; providers marked bad');
      }
      throw err;
    }
  }

  /** Signed meta from a trusted scheduler is kept, to hand to other daemons with the pieces. */
  async #keep(signed: SignedTaskMeta): Promise<void> {
    const { trust, metas, logger } = this.#o;
    const digest = signed.meta.digest;
    const rejected = await trust.reject(signed);
    if (rejected !== undefined) {
      logger.warn({ digest, signer: signed.signature.signer, reason: rejected }, 'task meta rejected');
      return;
    }
    await metas.put(signed).catch((err: unknown) => logger.warn({ digest, error: (err as Error).message }, 'keeping the task meta failed'));
  }
}
