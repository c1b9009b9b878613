import type { Logger } from '@flotilla/log';
import { hasherFor, OciError, parseDigest } from '@flotilla/oci';
import type { OriginClient } from '@flotilla/origin';
import type { P2PNode } from '@flotilla/p2p';
import type { TokenBucket } from '@flotilla/ratelimit';
import type { BlobWriter } from '@flotilla/store';
import { pieceGet, pieceRange, type TaskAssignedResponse, type TaskMeta } from '@flotilla/wire';
import type { BlobFetchRequest } from '../blob/source.ts';
import { fetchOriginRange } from './origin-range.ts';
import { ParentPool, type DropReason, type ParentState } from './parent-pool.ts';
import { WindowThenRarest, type PieceAvailability, type PieceOrder } from './piece-order.ts';
import type { SchedulerClient } from './scheduler-client.ts';
import { TaskReporter, type TaskNews } from './task-reporter.ts';
import { TransferStats } from './transfer-stats.ts';

/** Pieces ahead of the reader's position fetched strictly in order. */
const IN_ORDER_WINDOW = 4;
/** Rarest-first requests one child keeps at the seed at once while it has other parents. */
const SEED_SHARE = 2;
/** Reschedules asked before the remaining pieces go to the origin. */
const MAX_RESCHEDULES = 3;

const MISSING = 0;
const FETCHING = 1;
const DONE = 2;

export interface PieceDownloadOptions {
  node: P2PNode;
  request: BlobFetchRequest;
  assignment: TaskAssignedResponse;
  writer: BlobWriter;
  scheduler: SchedulerClient;
  origin: OriginClient;
  downloadBucket: TokenBucket;
  piecesInFlight: number;
  pieceTimeoutMs: number;
  /** A piece was verified and written (the piece server may now offer it). */
  onPiece(index: number): void;
  logger: Logger;
  order?: PieceOrder;
}

/** How one piece request ended. */
type Outcome =
  | { kind: 'ok'; chunks: Uint8Array[] }
  | { kind: 'busy' | 'missing' | 'corrupt' | 'cancelled' }
  | { kind: 'slow' | 'error'; error: string };

class PieceTimeout extends Error {}

/**
 * Fetches one blob's pieces from several parents at once and writes each into the blob writer once its sha256
 * matches the digest the scheduler published. A bad piece drops its parent for good (reported `corrupt`, the
 * scheduler blocklists it); a parent that errors or goes quiet for --piece-timeout is dropped and its pieces are
 * asked of another parent, or of the origin (Range) when nobody else has them, so the HTTP reader never waits
 * longer than about one piece deadline.
 */
export class PieceDownload {
  readonly #o: PieceDownloadOptions;
  readonly #meta: TaskMeta;
  readonly #digests: (string | null)[];
  readonly #state: Uint8Array;
  readonly #order: PieceOrder;
  readonly #parents: ParentPool;
  readonly #reporter: TaskReporter;
  readonly #stats: TransferStats;
  /** piece → the request in flight. */
  readonly #attempts = new Map<number, { parent?: ParentState; controller: AbortController }>();
  /** piece → parents that failed it (not asked again for that piece). */
  readonly #failedFrom = new Map<number, Set<string>>();
  /** Pieces whose request failed or was interrupted: served before anything else. */
  readonly #urgent = new Set<number>();
  #frontier = 0;
  #frontierSince = performance.now();
  /** The frontier stalled once without anyone able to serve it: frontier pieces nobody holds go to the origin. */
  #frontierFromOrigin = false;
  #originOnly = false;
  #rescheduling = false;
  #reschedules = 0;
  #done = 0;
  #fatal: unknown;
  #wake: (() => void) | undefined;

  constructor(options: PieceDownloadOptions) {
    this.#o = options;
    this.#meta = options.assignment.meta;
    this.#digests = [...this.#meta.pieceDigests];
    this.#state = new Uint8Array(this.#meta.pieceCount);
    this.#order = options.order ?? new WindowThenRarest(this.#meta.pieceCount, IN_ORDER_WINDOW);
    this.#stats = new TransferStats(options.scheduler.peerId);
    this.#parents = new ParentPool({
      node: options.node,
      digest: this.#meta.digest,
      pieceCount: this.#meta.pieceCount,
      seedPeerId: options.scheduler.peerId,
      onChange: () => this.#notify(),
      onLost: (parent) => this.#drop(parent.peerId, 'gone'),
      logger: options.logger,
    });
    this.#reporter = new TaskReporter({
      scheduler: options.scheduler,
      digest: this.#meta.digest,
      pieceCount: this.#meta.pieceCount,
      onNews: (news) => this.#absorb(news),
      rejoin: () => this.#rejoin(),
    });
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
      for (const { controller } of this.#attempts.values()) controller.abort();
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
    this.#checkFrontier(now);
    let free = this.#o.piecesInFlight - this.#attempts.size;
    const start = (index: number, originIfNobody: boolean): void => {
      const parent = this.#parentFor(index, now);
      if (parent) this.#fromParent(index, parent);
      else if (originIfNobody) this.#fromOrigin(index);
      else return;
      free--;
    };
    // A failed piece goes to another parent if one can serve it now, else to the origin: the reader must not wait.
    for (const index of this.#urgent) {
      if (free <= 0) break;
      this.#urgent.delete(index);
      if (this.#state[index] === MISSING) start(index, true);
    }
    if (this.#originOnly || this.#frontierFromOrigin) {
      const end = this.#originOnly ? this.#meta.pieceCount : Math.min(this.#meta.pieceCount, this.#frontier + IN_ORDER_WINDOW);
      for (let i = this.#frontier; i < end && free > 0; i++) {
        if (this.#state[i] === MISSING && (this.#originOnly || !this.#requestable(i, now))) start(i, true);
      }
    }
    // Extra candidates: the seed's share may run out part way through the picks.
    if (free > 0) {
      for (const index of this.#order.pick(this.#availability(now), free * 4)) {
        if (free <= 0) break;
        start(index, false);
      }
    }
    this.#reporter.wantDigests = this.#digests.some((d, i) => d === null && this.#state[i] !== DONE);
    if (this.#parents.size === 0 && !this.#originOnly && this.#done < this.#meta.pieceCount) void this.#reschedule();
  }

  #availability(now: number): PieceAvailability {
    return {
      pieceCount: this.#meta.pieceCount,
      frontier: this.#frontier,
      requestable: (i) => this.#requestable(i, now),
      holders: (i) => this.#parents.holders(i),
    };
  }

  #requestable(index: number, now: number): boolean {
    return this.#state[index] === MISSING && this.#parentFor(index, now) !== undefined;
  }

  /**
   * Who to ask for a piece: never a parent that failed it, never anyone before its digest is known. The seed's
   * upload is what the swarm exists to spare, so when other daemons are parents too the seed serves a child only
   * the reader's next piece and SEED_SHARE rarest-first pieces beyond the in-order window: those differ from child
   * to child, so what each child takes from the seed is what it can pass on to the others.
   */
  #parentFor(index: number, now: number): ParentState | undefined {
    if (this.#digests[index] === null) return undefined;
    const seedOnly = this.#parents.size === 1 && this.#parents.seed !== undefined;
    const seedLimit =
      seedOnly || index === this.#frontier ? Infinity : index < this.#frontier + IN_ORDER_WINDOW ? 0 : SEED_SHARE;
    return this.#parents.choose(index, { exclude: this.#failedFrom.get(index), now, seedLimit });
  }

  /** The reader waits on the frontier piece: if nobody could serve it for a piece deadline, the origin will. */
  #checkFrontier(now: number): void {
    if (this.#frontierFromOrigin || this.#frontier >= this.#meta.pieceCount) return;
    if (this.#state[this.#frontier] !== MISSING || now - this.#frontierSince < this.#o.pieceTimeoutMs) return;
    if (this.#requestable(this.#frontier, now)) return;
    this.#frontierFromOrigin = true;
    this.#o.logger.info({ digest: this.#meta.digest, piece: this.#frontier }, 'no parent can serve the next piece in time; using the origin');
  }

  #fromParent(index: number, parent: ParentState): void {
    const controller = new AbortController();
    this.#state[index] = FETCHING;
    this.#attempts.set(index, { parent, controller });
    parent.inFlight++;
    void this.#requestPiece(index, parent, controller).then((outcome) => {
      parent.inFlight--;
      this.#attempts.delete(index);
      return this.#settle(index, parent, outcome);
    }).catch((err: unknown) => (this.#fatal ??= err)).finally(this.#notify);
  }

  async #requestPiece(index: number, parent: ParentState, controller: AbortController): Promise<Outcome> {
    const { start, end } = pieceRange(index, this.#meta.size, this.#meta.pieceLength);
    const expected = parseDigest(this.#digests[index]!);
    const hasher = hasherFor(expected);
    const chunks: Uint8Array[] = [];
    const signal = AbortSignal.any([controller.signal, this.#o.request.signal]);
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new PieceTimeout()), this.#o.pieceTimeoutMs);
    };
    arm();
    try {
      const reply = await pieceGet(this.#o.node, parent.id, { digest: this.#meta.digest, index }, {
        expectedLength: end - start,
        signal,
        onChunk: async (chunk) => {
          // Waiting on our own download limit is not the parent's slowness.
          clearTimeout(timer);
          await this.#o.downloadBucket.take(chunk.byteLength, signal);
          hasher.update(chunk);
          chunks.push(chunk);
          arm();
        },
      });
      if (reply.type !== 'piece') return { kind: reply.type };
      return `${expected.algorithm}:${hasher.digest('hex')}` === expected.value ? { kind: 'ok', chunks } : { kind: 'corrupt' };
    } catch (err) {
      if (this.#o.request.signal.aborted) throw this.#o.request.signal.reason;
      const reason: unknown = controller.signal.reason;
      if (reason instanceof PieceTimeout) return { kind: 'slow', error: `no bytes for ${this.#o.pieceTimeoutMs} ms` };
      if (controller.signal.aborted) return { kind: 'cancelled' };
      return { kind: 'error', error: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  async #settle(index: number, parent: ParentState, outcome: Outcome): Promise<void> {
    if (outcome.kind === 'ok') return this.#store(index, outcome.chunks, parent);
    this.#state[index] = MISSING;
    const now = performance.now();
    // Requests that ended after their parent was dropped say nothing new about it (one bad piece is enough).
    const kind = this.#parents.get(parent.peerId) === parent ? outcome.kind : 'cancelled';
    switch (kind) {
      case 'busy':
        this.#parents.busy(parent, now);
        this.#reporter.failed({ index, peer: parent.peerId, reason: 'busy' });
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
    if (!this.#parents.drop(peerId, reason)) return;
    for (const { parent, controller } of this.#attempts.values()) if (parent?.peerId === peerId) controller.abort();
  }

  #fromOrigin(index: number): void {
    const controller = new AbortController();
    this.#state[index] = FETCHING;
    this.#attempts.set(index, { controller });
    const range = pieceRange(index, this.#meta.size, this.#meta.pieceLength);
    const signal = AbortSignal.any([controller.signal, this.#o.request.signal]);
    void fetchOriginRange(this.#o.origin, this.#o.request, range, signal)
      .then((chunks) => {
        this.#attempts.delete(index);
        const known = this.#digests[index];
        if (known !== null && known !== undefined && !matches(known, chunks)) {
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
    this.#stats.add(parent?.peerId, chunks);
    this.#o.onPiece(index);
    this.#reporter.finished(index);
    if (index === this.#frontier) {
      while (this.#frontier < this.#meta.pieceCount && this.#state[this.#frontier] === DONE) this.#frontier++;
      this.#frontierSince = performance.now();
      if (parent) this.#frontierFromOrigin = false;
    }
  }

  /** Piece digests and parents from a report-ack. */
  #absorb(news: TaskNews): void {
    news.pieceDigests?.digests.forEach((digest, k) => (this.#digests[news.pieceDigests!.from + k] ??= digest));
    if (news.parents) this.#parents.add(news.parents);
    // The seed publishes a piece's digest once that piece is on its disk.
    const seed = this.#parents.seed;
    if (seed) this.#digests.forEach((digest, i) => digest !== null && seed.have.add(i));
    this.#notify();
  }

  /** A fresh assignment (rejoin, reschedule): its meta carries every digest known so far. */
  #absorbAssignment(assignment: TaskAssignedResponse): void {
    assignment.meta.pieceDigests.forEach((digest, i) => (this.#digests[i] ??= digest));
    this.#absorb({ parents: assignment.parents });
  }

  /** Every parent is gone: ask for others, or fetch what is left from the origin. */
  async #reschedule(): Promise<void> {
    if (this.#rescheduling) return;
    this.#rescheduling = true;
    try {
      const answer = await this.#o.scheduler.call({ type: 'reschedule', digest: this.#meta.digest, exclude: this.#parents.dropped });
      this.#reschedules++;
      if (answer.type === 'task-assigned' && this.#reschedules <= MAX_RESCHEDULES) {
        this.#absorbAssignment(answer);
        if (this.#parents.size > 0) return;
      }
      this.#toOrigin(answer.type === 'task-assigned' ? 'no usable parent after rescheduling' : answer.type === 'error' ? answer.message : answer.reason);
    } catch (err) {
      this.#toOrigin((err as Error).message);
    } finally {
      this.#rescheduling = false;
      this.#notify();
    }
  }

  /** The scheduler forgot the task (restarted): join it again. */
  async #rejoin(): Promise<void> {
    const { registry, repository, digest, authorization } = this.#o.request;
    const answer = await this.#o.scheduler.call({
      type: 'task',
      digest: digest.value,
      registry,
      repository,
      ...(authorization ? { authorization } : {}),
    });
    if (answer.type === 'task-assigned') this.#absorbAssignment(answer);
  }

  #toOrigin(why: string): void {
    if (this.#originOnly) return;
    this.#originOnly = true;
    this.#o.logger.info({ digest: this.#meta.digest, reason: why, pieces_left: this.#meta.pieceCount - this.#done }, 'remaining pieces from the origin');
  }
}

function matches(digest: string, chunks: Uint8Array[]): boolean {
  const expected = parseDigest(digest);
  const hasher = hasherFor(expected);
  for (const chunk of chunks) hasher.update(chunk);
  return `${expected.algorithm}:${hasher.digest('hex')}` === expected.value;
}
