import type { Logger } from '@flotilla/log';
import { OciError } from '@flotilla/oci';
import type { OriginClient } from '@flotilla/origin';
import type { P2PNode } from '@flotilla/p2p';
import type { TokenBucket } from '@flotilla/ratelimit';
import type { BlobWriter } from '@flotilla/store';
import { pieceRange, type Parent, type SignedTaskMeta, type TaskAssignedResponse, type TaskMeta } from '@flotilla/wire';
import type { BlobFetchRequest } from '../blob/source.ts';
import { digestMatches, fetchPiece, type PieceOutcome } from './fetch-piece.ts';
import { fetchOriginRange } from './origin-range.ts';
import { ParentPool, type DropReason, type ParentState } from './parent-pool.ts';
import { ParentSupply } from './parent-supply.ts';
import { PieceDigests } from './piece-digests.ts';
import { PieceSources } from './piece-sources.ts';
import { SeedlessSwarm } from './seedless.ts';
import { WindowThenRarest, type PieceAvailability, type PieceOrder } from './piece-order.ts';
import { pieceRank, stringHash } from './piece-rank.ts';
import type { SchedulerLink } from './scheduler-client.ts';
import { TaskReporter, type TaskNews } from './task-reporter.ts';
import { TransferStats } from './transfer-stats.ts';

/** Pieces ahead of the reader's position fetched strictly in order. */
const IN_ORDER_WINDOW = 4;
/** A seed that let a piece stall is not asked again for this long (it is not dropped: the swarm's pieces start there). */
const SEED_SLOW_BACKOFF_MS = 1_000;
const MISSING = 0;
const FETCHING = 1;
const DONE = 2;

export interface PieceDownloadOptions {
  node: P2PNode;
  request: BlobFetchRequest;
  assignment: TaskAssignedResponse;
  writer: BlobWriter;
  scheduler: SchedulerLink;
  origin: OriginClient;
  downloadBucket: TokenBucket;
  /** --pieces-in-flight: requests to parents at once (the node's, when inFlightShare splits it). */
  piecesInFlight: number;
  /** This download's share of piecesInFlight now (see ActiveDownloads.inFlightShare); without it, all of it. */
  inFlightShare?(total: number): number;
  pieceTimeoutMs: number;
  /** A piece was verified and written (the piece server may now offer it). */
  onPiece(index: number): void;
  logger: Logger;
  order?: PieceOrder;
  /** No trusted piece digests: pieces are fetched unchecked and the caller verifies the whole blob (see unverifiedPeers). */
  verifyWhole?: boolean;
  /** Parents when no scheduler can name any (it is unreachable): daemons with or fetching the blob, from the DHT. */
  findParents?(exclude: readonly string[]): Promise<Parent[]>;
  /** A parent was dropped for this blob (it failed, stalled, sent a bad piece or went away). */
  onParentDropped?(peerId: string, reason: DropReason): void;
  /** Every piece digest and the scheduler's signature over them are known (called once). */
  onSignedMeta?(signed: SignedTaskMeta): void;
}

/**
 * Fetches one blob's pieces from several parents at once and writes each into the blob writer once its sha256
 * matches the digest the scheduler published. A bad piece drops its parent for good (reported `corrupt`, the
 * scheduler blocklists it); a parent that errors or goes quiet for --piece-timeout is dropped and its pieces are
 * asked of another parent, or of the origin (Range) when nobody else has them, so the HTTP reader never waits
 * longer than about one piece deadline.
 *
 * When the seed goes away the swarm carries on without it (see SeedlessSwarm); pieces whose digest never came are
 * then verified with the whole blob.
 */
export class PieceDownload {
  readonly #o: PieceDownloadOptions;
  readonly #meta: TaskMeta;
  readonly #digests: PieceDigests;
  readonly #state: Uint8Array;
  readonly #order: PieceOrder;
  readonly #parents: ParentPool;
  readonly #reporter: TaskReporter;
  readonly #supply: ParentSupply;
  readonly #seedless: SeedlessSwarm;
  readonly #stats: TransferStats;
  /** piece → the request in flight. */
  readonly #attempts = new Map<number, { parent?: ParentState; cancel: AbortController }>();
  /** piece → parents that failed it (not asked again for that piece). */
  readonly #failedFrom = new Map<number, Set<string>>();
  /** Pieces whose request failed or was interrupted: served before anything else. */
  readonly #urgent = new Set<number>();
  /** Parents that sent pieces whose digest was unknown: suspects if the whole blob does not match. */
  readonly #unverifiedFrom = new Set<string>();
  readonly #sources: PieceSources;
  #originOnly = false;
  #rescheduling = false;
  /** The seed's watch carries piece digests (a scheduler that predates that is polled for them instead). */
  #seedSendsDigests = false;
  #done = 0;
  #fatal: unknown;
  #wake: (() => void) | undefined;

  constructor(options: PieceDownloadOptions) {
    this.#o = options;
    this.#meta = options.assignment.meta;
    this.#digests = new PieceDigests(this.#meta);
    if (options.verifyWhole) this.#digests.allowUnverified();
    this.#state = new Uint8Array(this.#meta.pieceCount);
    const selfHash = stringHash(options.node.peerId.toString());
    this.#order = options.order ?? new WindowThenRarest(IN_ORDER_WINDOW, (index) => pieceRank(selfHash, index));
    this.#stats = new TransferStats();
    this.#parents = new ParentPool({
      node: options.node,
      digest: this.#meta.digest,
      pieceCount: this.#meta.pieceCount,
      isSeed: (peerId) => peerId === options.scheduler.peerId,
      onChange: () => this.#notify(),
      onLost: (parent) => this.#drop(parent.peerId, 'gone'),
      onDigests: (pieces, digests) => this.#learnFromSeed(pieces, digests),
      logger: options.logger,
    });
    this.#reporter = new TaskReporter({
      scheduler: options.scheduler,
      digest: this.#meta.digest,
      pieceCount: this.#meta.pieceCount,
      onNews: (news) => this.#absorb(news),
      // A finished download has nothing to ask of a scheduler that does not know the task (its report is moot).
      rejoin: () => (this.#done < this.#meta.pieceCount ? this.#supply.rejoin() : Promise.resolve()),
    });
    this.#supply = new ParentSupply({
      scheduler: options.scheduler,
      request: options.request,
      parents: this.#parents,
      ...(options.findParents ? { findParents: options.findParents } : {}),
      absorb: (assignment) => this.#absorbAssignment(assignment),
      logger: options.logger,
    });
    this.#seedless = new SeedlessSwarm({
      parents: this.#parents,
      supply: this.#supply,
      scheduler: options.scheduler,
      piecesInFlight: options.piecesInFlight,
    });
    this.#sources = new PieceSources({
      meta: this.#meta,
      parents: this.#parents,
      digests: this.#digests,
      failedFrom: this.#failedFrom,
      missing: (i) => this.#state[i] === MISSING,
      seedless: () => this.#seedless.active,
      pieceTimeoutMs: options.pieceTimeoutMs,
      logger: options.logger,
    });
  }

  /** Peers that sent pieces no digest checked (verifyWhole): the ones to blame if the blob does not match. */
  get unverifiedPeers(): ReadonlySet<string> {
    return this.#unverifiedFrom;
  }

  /** Resolves when every piece is written; rejects when the origin fails too or the request is aborted. */
  async run(): Promise<void> {
    const signal = this.#o.request.signal;
    const tickMs = Math.max(10, Math.min(250, this.#o.pieceTimeoutMs / 4));
    this.#reporter.start();
    this.#absorbAssignment(this.#o.assignment);
    try {
      while (this.#done < this.#meta.pieceCount) {
        signal.throwIfAborted();
        if (this.#fatal !== undefined) throw this.#fatal;
        this.#fill(performance.now());
        const woke = new Promise<void>((resolve) => (this.#wake = resolve));
        const timer = setTimeout(() => this.#notify(), tickMs);
        signal.addEventListener('abort', this.#notify, { once: true });
        await woke;
        clearTimeout(timer);
        signal.removeEventListener('abort', this.#notify);
      }
      this.#o.logger.info({ digest: this.#meta.digest, ...this.#stats.summary() }, 'swarm download finished');
    } finally {
      for (const { cancel } of this.#attempts.values()) cancel.abort();
      this.#parents.stop();
      this.#reporter.wantDigests = false;
      void this.#reporter.flush().finally(() => this.#reporter.stop());
    }
  }

  readonly #notify = (): void => {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  };

  /** Starts requests until --pieces-in-flight are running: failed pieces first, then the piece order's picks. */
  #fill(now: number): void {
    this.#sources.checkFrontier(now);
    if (this.#seedless.active) this.#seedless.tick(now);
    let free = (this.#o.inFlightShare?.(this.#o.piecesInFlight) ?? this.#o.piecesInFlight) - this.#attempts.size;
    /**
     * `urgent`: a request failed or the reader waits: the seed may be asked, else the origin — but once the seed is
     * gone a failed piece nobody holds is left to the daemon that ranks first for it, unless the reader waits on it.
     */
    const start = (index: number, urgent: boolean, readerWaits = false): boolean => {
      const parent = this.#sources.parentFor(index, now, urgent);
      if (parent) this.#fromParent(index, parent);
      else if (readerWaits || (urgent && this.#seedless.active && this.#seedless.mayFetch(index))) this.#fromOrigin(index);
      else return false;
      free--;
      return true;
    };
    /**
     * A failed piece goes to another parent that can serve it now. One that parents hold but cannot take yet (busy)
     * waits for them; one nobody holds goes back to the piece order (the seed has not fetched it yet), unless the
     * seed is gone and it is ours to fetch. The reader's own piece is watched by PieceSources.checkFrontier.
     */
    const waiting: number[] = [];
    for (const index of this.#urgent) {
      if (free <= 0) break;
      this.#urgent.delete(index);
      if (this.#state[index] === MISSING && !start(index, true) && this.#parents.held(index, this.#failedFrom.get(index))) waiting.push(index);
    }
    for (const index of waiting) this.#urgent.add(index);
    const frontier = this.#sources.frontier;
    if (this.#originOnly || this.#sources.frontierFromOrigin) {
      const end = this.#originOnly ? this.#meta.pieceCount : Math.min(this.#meta.pieceCount, frontier + IN_ORDER_WINDOW);
      for (let i = frontier; i < end && free > 0; i++) {
        if (this.#state[i] === MISSING && (this.#originOnly || !this.#sources.requestable(i, now))) start(i, true, true);
      }
    }
    if (this.#seedless.active) {
      let fromOrigin = 0;
      for (const { parent } of this.#attempts.values()) if (!parent) fromOrigin++;
      const missing = (i: number): boolean => this.#state[i] === MISSING;
      for (const index of this.#seedless.originPicks(frontier, this.#meta.pieceCount, missing, fromOrigin, free)) {
        this.#fromOrigin(index);
        free--;
      }
    }
    // Extra candidates: the seed's share may run out part way through the picks.
    if (free > 0) {
      for (const index of this.#order.pick(this.#availability(now), free * 4)) {
        if (free <= 0) break;
        start(index, false);
      }
    }
    // A seed that sends digests on its watch spares the scheduler a poll every report interval from every child.
    this.#reporter.wantDigests =
      !this.#seedSendsDigests && !this.#digests.unverifiedAllowed && this.#digests.wanted((i) => this.#state[i] === DONE);
    if (this.#parents.size === 0 && !this.#originOnly && this.#done < this.#meta.pieceCount) void this.#reschedule();
  }

  #availability(now: number): PieceAvailability {
    return {
      pieceCount: this.#meta.pieceCount,
      frontier: this.#sources.frontier,
      requestable: (i) => this.#sources.requestable(i, now),
      holders: (i) => this.#parents.holdersOutsideSeedGroup(i),
    };
  }

  #fromParent(index: number, parent: ParentState): void {
    const cancel = new AbortController();
    this.#state[index] = FETCHING;
    this.#attempts.set(index, { parent, cancel });
    parent.inFlight++;
    const { start, end } = pieceRange(index, this.#meta.size, this.#meta.pieceLength);
    const started = performance.now();
    const pieceDigest = this.#digests.get(index) ?? undefined;
    void fetchPiece({
      node: this.#o.node,
      parent: parent.id,
      blobDigest: this.#meta.digest,
      index,
      length: end - start,
      pieceDigest,
      downloadBucket: this.#o.downloadBucket,
      idleTimeoutMs: this.#o.pieceTimeoutMs,
      cancel: cancel.signal,
      signal: this.#o.request.signal,
    })
      .then((outcome) => {
        parent.inFlight--;
        this.#attempts.delete(index);
        if (outcome.kind === 'ok') {
          this.#sources.pieceTook(performance.now() - started);
          if (pieceDigest === undefined) this.#unverifiedFrom.add(parent.peerId);
        }
        return this.#settle(index, parent, outcome);
      })
      .catch((err: unknown) => (this.#fatal ??= err))
      .finally(this.#notify);
  }

  async #settle(index: number, parent: ParentState, outcome: PieceOutcome): Promise<void> {
    if (outcome.kind === 'ok') return this.#store(index, outcome.chunks, parent);
    this.#state[index] = MISSING;
    const now = performance.now();
    // Requests that ended after their parent was dropped say nothing new about it (one bad piece is enough).
    const kind = this.#parents.get(parent.peerId) === parent ? outcome.kind : 'cancelled';
    switch (kind) {
      case 'busy':
        // Flow control, not a failure: the parent's upload link is booked; it said when to come back.
        this.#parents.busy(parent, now, 'retryAfterMs' in outcome ? outcome.retryAfterMs : undefined);
        return;
      case 'missing':
        parent.have.delete(index);
        return;
      case 'cancelled':
        this.#urgent.add(index);
        return;
      case 'corrupt':
        this.#o.logger.warn({ digest: this.#meta.digest, piece: index, parent: parent.peerId }, 'corrupt piece from parent');
        this.#urgent.add(index);
        return this.#fail(index, parent, 'corrupt');
      case 'slow':
      case 'error': {
        const error = 'error' in outcome ? outcome.error : '';
        this.#o.logger.info({ digest: this.#meta.digest, piece: index, parent: parent.peerId, reason: kind, error }, 'piece failed');
        this.#urgent.add(index);
        if (kind === 'slow' && parent.isSeed) {
          // Every piece starts at the seed: losing it for one late piece would send the rest to the origin.
          this.#parents.busy(parent, now, SEED_SLOW_BACKOFF_MS);
          this.#reporter.failed({ index, peer: parent.peerId, reason: kind });
          return;
        }
        return this.#fail(index, parent, kind);
      }
    }
  }

  /** Reports the failure, never asks this parent for this piece again, and drops it for this blob. */
  #fail(index: number, parent: ParentState, reason: DropReason): void {
    this.#reporter.failed({ index, peer: parent.peerId, reason });
    const failed = this.#failedFrom.get(index) ?? new Set<string>();
    failed.add(parent.peerId);
    this.#failedFrom.set(index, failed);
    this.#drop(parent.peerId, reason);
  }

  /** Stops using a parent; its other requests are cancelled and re-requested elsewhere. */
  #drop(peerId: string, reason: DropReason): void {
    const parent = this.#parents.drop(peerId, reason);
    if (!parent) return;
    this.#o.onParentDropped?.(peerId, reason);
    for (const attempt of this.#attempts.values()) if (attempt.parent?.peerId === peerId) attempt.cancel.abort();
    if (parent.isSeed) this.#loseSeed();
  }

  /** The seed is gone: the swarm carries on without it; digests that never came are checked with the whole blob. */
  #loseSeed(): void {
    if (this.#done === this.#meta.pieceCount || !this.#seedless.begin(performance.now())) return;
    const unverified = !this.#digests.unverifiedAllowed && this.#digests.wanted((i) => this.#state[i] === DONE);
    if (unverified) this.#digests.allowUnverified();
    this.#o.logger.info({ digest: this.#meta.digest, pieces_left: this.#meta.pieceCount - this.#done, unverified }, 'seed gone: the swarm carries on');
  }

  /** The origin is the last resort: its failure fails the download. */
  #fromOrigin(index: number): void {
    const cancel = new AbortController();
    this.#state[index] = FETCHING;
    this.#attempts.set(index, { cancel });
    const range = pieceRange(index, this.#meta.size, this.#meta.pieceLength);
    const signal = AbortSignal.any([cancel.signal, this.#o.request.signal]);
    void fetchOriginRange(this.#o.origin, this.#o.request, range, signal)
      .then((chunks) => {
        this.#attempts.delete(index);
        const known = this.#digests.get(index);
        if (known && !digestMatches(known, chunks)) {
          throw new OciError(502, 'DIGEST_INVALID', `origin bytes of piece ${index} do not match the swarm's digest`);
        }
        return this.#store(index, chunks, undefined);
      })
      .catch((err: unknown) => (this.#fatal ??= err))
      .finally(this.#notify);
  }

  /** A verified piece: into the writer, then announced (piece server, scheduler report). */
  async #store(index: number, chunks: Uint8Array[], parent: ParentState | undefined): Promise<void> {
    const { start } = pieceRange(index, this.#meta.size, this.#meta.pieceLength);
    await this.#o.writer.write(start, chunks);
    this.#state[index] = DONE;
    this.#done++;
    this.#stats.add(parent, chunks);
    this.#o.onPiece(index);
    this.#reporter.finished(index);
    if (index === this.#sources.frontier) this.#sources.advance((i) => this.#state[i] === DONE);
  }

  /** Piece digests and parents from a report-ack. */
  #absorb(news: TaskNews): void {
    if (news.pieceDigests) {
      const { from, digests } = news.pieceDigests;
      this.#digests.learn(from, digests);
      if (digests.length > 0) this.#parents.gained();
      this.#sources.seedGained(digests.map((_, k) => from + k));
    }
    if (news.signature) this.#digests.learnSignature(news.signature);
    if (news.parents) this.#parents.add(news.parents);
    if (news.swarm) this.#parents.setSwarm(news.swarm);
    // The seed publishes a piece's digest once that piece is on its disk.
    const seed = this.#parents.seed;
    if (seed) for (const i of this.#digests.known()) seed.have.add(i);
    const signed = this.#digests.takeSigned();
    if (signed) this.#o.onSignedMeta?.(signed);
    this.#notify();
  }

  /** Digests from the seed's watch stream: the pieces are on the seed's disk, so the swarm has gained them. */
  #learnFromSeed(pieces: readonly number[], digests: readonly string[]): void {
    this.#seedSendsDigests = true;
    this.#digests.learnEach(pieces, digests);
    this.#sources.seedGained(pieces);
    const signed = this.#digests.takeSigned();
    if (signed) this.#o.onSignedMeta?.(signed);
    this.#notify();
  }

  /** A fresh assignment (rejoin, reschedule): its meta carries every digest known so far. */
  #absorbAssignment(assignment: TaskAssignedResponse): void {
    this.#digests.learnMeta(assignment.meta, assignment.signature);
    this.#absorb({ parents: assignment.parents, ...(assignment.swarm ? { swarm: assignment.swarm } : {}) });
  }

  /** Every parent is gone: ask for others, or fetch what is left from the origin. */
  async #reschedule(): Promise<void> {
    if (this.#rescheduling) return;
    this.#rescheduling = true;
    try {
      const noParents = await this.#supply.replenish();
      if (noParents !== undefined) this.#toOrigin(noParents);
    } finally {
      this.#rescheduling = false;
      this.#notify();
    }
  }

  /** From now on every missing piece comes from the origin. */
  #toOrigin(why: string): void {
    if (this.#originOnly) return;
    this.#originOnly = true;
    this.#o.logger.info({ digest: this.#meta.digest, reason: why, pieces_left: this.#meta.pieceCount - this.#done }, 'remaining pieces from the origin');
  }
}
