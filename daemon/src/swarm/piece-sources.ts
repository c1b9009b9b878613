import type { Logger } from '@flotilla/log';
import type { TaskMeta } from '@flotilla/wire';
import type { ParentPool, ParentState } from './parent-pool.ts';
import type { PieceDigests } from './piece-digests.ts';

/** Requests one child keeps at the seed at once (besides the reader's next piece) while it has other parents. */
const SEED_SHARE = 2;
/**
 * Blobs smaller than this are taken from the seed by whoever needs them: copying them costs the seed little, and
 * waiting for another daemon to pass on a config blob's only piece cost every node a second before its first byte.
 */
const SPARE_SEED_FROM_BYTES = 4 * 1024 * 1024;
/** The shortest wait for a piece to come through another daemon before the seed is asked for it. */
const MIN_PATIENCE_MS = 50;
/** Piece-times the reader's next piece may take to come through another daemon (see patienceMs). */
const FRONTIER_PIECE_TIMES = 4;
/**
 * Piece deadlines the reader waits on a piece nobody can serve yet before the origin is asked for it: the swarm must
 * have stopped gaining pieces for that long too, or the parents holding it stayed busy that long.
 */
const FRONTIER_PATIENCE_DEADLINES = 4;

export interface PieceSourcesOptions {
  meta: TaskMeta;
  parents: ParentPool;
  digests: PieceDigests;
  /** piece → parents that failed it (never asked for it again); owned by the download. */
  failedFrom: ReadonlyMap<number, ReadonlySet<string>>;
  /** Not written and not in flight. */
  missing(index: number): boolean;
  /** The seed is gone and the swarm carries on without it. */
  seedless(): boolean;
  pieceTimeoutMs: number;
  logger: Logger;
}

/**
 * Where one download's pieces come from: which parent to ask for a piece (sparing the seed's upload), where the
 * reader is (the frontier: the first piece not written yet), and when the reader's next pieces must come from the
 * origin because the swarm cannot deliver them.
 */
export class PieceSources {
  readonly #o: PieceSourcesOptions;
  #frontier = 0;
  #frontierSince = performance.now();
  /** The frontier stalled with nobody able to serve it: the next window goes to the origin, once. */
  #fromOrigin = false;
  /** Moving average of how long a piece request to a parent takes. */
  #pieceMs: number;
  /** piece → when we learnt the seed has it (0: not yet, or it had it before we joined). */
  readonly #seedHadAt: Float64Array;

  constructor(options: PieceSourcesOptions) {
    this.#o = options;
    this.#pieceMs = options.pieceTimeoutMs / 20;
    this.#seedHadAt = new Float64Array(options.meta.pieceCount);
  }

  /** The seed announced these pieces now (at its edge, the first fetcher needs a moment before passing them on). */
  seedGained(pieces: Iterable<number>, now = performance.now()): void {
    for (const index of pieces) if (index < this.#seedHadAt.length && this.#seedHadAt[index] === 0) this.#seedHadAt[index] = now;
  }

  /** The first piece not yet written: the HTTP reader waits on it. */
  get frontier(): number {
    return this.#frontier;
  }

  /** The reader's next window is to come from the origin (see checkFrontier). */
  get frontierFromOrigin(): boolean {
    return this.#fromOrigin;
  }

  /** A piece request to a parent succeeded after `ms`. */
  pieceTook(ms: number): void {
    this.#pieceMs += (ms - this.#pieceMs) / 8;
  }

  /** The frontier piece was written: the frontier moves past every written piece, and its next stall is judged afresh. */
  advance(written: (index: number) => boolean): void {
    while (this.#frontier < this.#o.meta.pieceCount && written(this.#frontier)) this.#frontier++;
    this.#frontierSince = performance.now();
    this.#fromOrigin = false;
  }

  /** Missing, and some parent may be asked for it now. */
  requestable(index: number, now: number): boolean {
    return this.#o.missing(index) && this.parentFor(index, now) !== undefined;
  }

  /**
   * Who to ask for a piece: never a parent that failed it, never anyone before its digest is known. The seed's
   * upload is what the swarm exists to spare. With other daemons as parents, a child asks the seed only for the
   * pieces it is first fetcher of (see ParentPool.firstFetcher), at most SEED_SHARE at a time; the reader's next
   * piece too once no daemon has passed it on within a few piece-times. An urgent piece (its request failed, or the
   * origin is next) and the pieces of small blobs may always go to the seed.
   */
  parentFor(index: number, now: number, urgent = false): ParentState | undefined {
    const { digests, parents, meta, failedFrom } = this.#o;
    if (!digests.fetchable(index)) return undefined;
    let seedLimit = Infinity;
    if (!urgent && parents.size > 1 && parents.seed && meta.size >= SPARE_SEED_FROM_BYTES) {
      const first = parents.firstFetcher(index);
      // The wait counts from when the reader got there, or from when the seed got the piece if that was later.
      const waitingSince = Math.max(this.#frontierSince, this.#seedHadAt[index]!);
      if (index !== this.#frontier) seedLimit = first ? SEED_SHARE : 0;
      else if (!first && now - waitingSince < this.#patienceMs()) seedLimit = 0;
    }
    return parents.choose(index, { exclude: failedFrom.get(index), now, seedLimit });
  }

  /**
   * The reader waits on the frontier piece. If nobody could serve it for a few piece deadlines while the swarm
   * stopped gaining pieces (the seed is stuck), or while the parents holding it stayed busy, the origin sends the
   * next few pieces, once; then the swarm gets its chance again. A swarm still gaining pieces is waited for: the
   * seed fetches the blob at the speed of its own link, so readers at its edge wait for it, and origin bytes taken
   * then would come out of the seed's share of the origin's link — slowing everyone.
   */
  checkFrontier(now: number): void {
    const { meta, parents, failedFrom } = this.#o;
    if (this.#fromOrigin || this.#frontier >= meta.pieceCount) return;
    const patience = FRONTIER_PATIENCE_DEADLINES * this.#o.pieceTimeoutMs;
    if (!this.#o.missing(this.#frontier) || now - this.#frontierSince < patience) return;
    if (this.requestable(this.#frontier, now)) return;
    const held = parents.held(this.#frontier, failedFrom.get(this.#frontier));
    if (!held && now - parents.gainedAt < patience && !this.#o.seedless()) return;
    this.#fromOrigin = true;
    this.#o.logger.info({ digest: meta.digest, piece: this.#frontier }, 'no parent can serve the next piece in time; using the origin');
  }

  /**
   * How long the reader's next piece may take to come through another daemon before the seed is asked for it: four
   * piece-times (the first fetcher's turn at the seed, then its copy to us, on loaded links), at most half a
   * deadline. Two were too few at the seed's edge: every reader there asked the seed, which then sent each piece
   * several times and fell behind its own download.
   */
  #patienceMs(): number {
    return Math.min(this.#o.pieceTimeoutMs / 2, Math.max(MIN_PATIENCE_MS, FRONTIER_PIECE_TIMES * this.#pieceMs));
  }
}
