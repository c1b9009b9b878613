/*
 * One simulated daemon fetching one blob: a model of daemon/src/swarm/piece-download.ts on simulated time. It
 * keeps the daemon's rules — its share of the node's --pieces-in-flight at once; the piece order of piece-order.ts (the reader's
 * next pieces in order, then rarest first among its parents outside the seed group, ties in the daemon's own
 * pseudo-random order; see PiecePicker); a piece only once its digest is known; other daemons before the seed, least loaded first; the seed
 * asked only for the pieces this child ranks first for among the scheduler's list of the seed's children (two at a
 * time) and for the reader's next piece once no daemon passed it on within the patience; a parent that answers busy
 * rested for as long as it asks (20 ms – 2 s); the frontier fetched from the origin when nobody could serve it in time (see OriginFallback);
 * reports every 250 ms; the seed's digests from its watch. It leaves out failures (no loss, no corrupt or slow
 * parents, so no reschedules) and the parents' watch latency (a parent's new piece is seen at the end of the step it
 * lands in).
 */
import { mix, type Rng } from './rng.ts';
import { pickPieces } from './piece-picker.ts';

/**
 * When the reader's next piece goes to the origin. `stalled` (the daemon, PieceSources.checkFrontier): after
 * HELD_FRONTIER_DEADLINES piece timeouts in which no parent could serve it, when a parent holds it (busy) or the
 * parents stopped gaining pieces for that long. `deadline` (the daemon before that rule): when no parent could serve
 * it for one piece timeout.
 */
export type OriginFallback = 'deadline' | 'stalled';

/** The daemon's constants (piece-download.ts, piece-sources.ts, parent-pool.ts, task-reporter.ts). */
export const DAEMON = {
  heldFrontierDeadlines: 4,
  inOrderWindow: 4,
  seedShare: 2,
  minPatienceMs: 50,
  /** Piece-times the reader's next piece may take to come through another daemon before the seed is asked. */
  frontierPieceTimes: 4,
  /** Bounds on the rest a parent's `busy` asks for (ParentPool.busy). */
  minBusyBackoffMs: 20,
  maxBusyBackoffMs: 2_000,
  reportIntervalMs: 250,
  pieceTimeoutMs: 2_000,
  /** The download loop's tick: max(10, min(250, piece timeout / 4)). */
  tickMs: 250,
} as const;

const MISSING = 0;
const FETCHING = 1;
const DONE = 2;

export type Source = 'origin' | 'seed' | 'peers';

/** A parent as one child sees it. */
export interface ParentLink {
  readonly node: number;
  readonly peerId: string;
  readonly isSeed: boolean;
  /** For first-fetcher ranks. */
  readonly hash: number;
  /** The parent's own download of this blob (daemons); undefined for the seed. */
  readonly holder: Download | undefined;
  inFlight: number;
  busyUntil: number;
  /** On the scheduler's list of the seed's children (the seed group). */
  inGroup: boolean;
}

/** What a download asks of the simulation around it. */
export interface DownloadWorld {
  readonly rng: Rng;
  /** This download's share of its node's --pieces-in-flight now. */
  piecesInFlight(download: Download): number;
  originFallback: OriginFallback;
  /** A request to a parent; the world answers with onPiece or onBusy. */
  requestPiece(download: Download, parent: ParentLink, index: number, now: number): void;
  /** A Range request to the origin; answered with onPiece. */
  fromOrigin(download: Download, index: number, now: number): void;
  /** The parent link for a peer id the scheduler handed out. */
  link(download: Download, peerId: string): ParentLink;
  /** The download finished its last piece. */
  finished(download: Download, at: number): void;
  /** Wake the download (fill) at the end of this step. */
  wake(download: Download): void;
  /** A daemon's hash, as its peer id hashes on the daemons (first-fetcher ranks). */
  hashOf(peerId: string): number;
}

export class Download {
  /** Which blob of the image (index into the layers). */
  readonly blob: number;
  readonly node: number;
  readonly peerId: string;
  readonly pieceCount: number;
  readonly #world: DownloadWorld;
  readonly #hash: number;
  readonly #state: Uint8Array;
  /** Per piece: how many daemon parents (not the seed) hold it. */
  readonly #holders: Uint16Array;
  /** Per piece: how many of those are on the scheduler's list of the seed's children (the seed group). */
  readonly #groupHolders: Uint16Array;
  readonly #links: ParentLink[] = [];
  #seed: ParentLink | undefined;
  /** Hashes of the seed's other unfinished children: the scheduler's `swarm` list (undefined: not sent). */
  #swarm: number[] | undefined;
  /** Per piece: when this download learnt the seed has it (0: not yet). */
  readonly #seedHadAt: Float64Array;
  /** Piece digests known: [0, known) may be fetched. */
  known = 0;
  #frontier = 0;
  #frontierSince: number;
  #frontierFromOrigin = false;
  /** When a parent last announced a piece it did not have, or more digests (the seed's pieces) became known. */
  #gainedAt: number;
  #inFlight = 0;
  #done = 0;
  #pieceMs = DAEMON.pieceTimeoutMs / 20;
  /** Finished pieces and busy answers not yet reported. */
  pendingFinished: number[] = [];
  pendingFailed = 0;
  readonly bytes: Record<Source, number> = { origin: 0, seed: 0, peers: 0 };
  firstByteAt = Number.POSITIVE_INFINITY;
  doneAt: number | undefined;
  /** Children watching this download (they hold it as a parent). */
  readonly watchers: Download[] = [];

  constructor(world: DownloadWorld, blob: number, node: number, peerId: string, pieceCount: number, now: number) {
    this.#world = world;
    this.blob = blob;
    this.node = node;
    this.peerId = peerId;
    this.pieceCount = pieceCount;
    this.#hash = mix(node, 0x5eed);
    this.#state = new Uint8Array(pieceCount);
    this.#holders = new Uint16Array(pieceCount);
    this.#groupHolders = new Uint16Array(pieceCount);
    this.#seedHadAt = new Float64Array(pieceCount);
    this.#frontierSince = now;
    this.#gainedAt = now;
  }

  get complete(): boolean {
    return this.#done === this.pieceCount;
  }

  has(index: number): boolean {
    return this.#state[index] === DONE;
  }

  get parentCount(): number {
    return this.#links.length;
  }

  /** While a needed digest is unknown the reporter polls every interval (an empty report). */
  get wantsDigests(): boolean {
    return !this.complete && this.known < this.pieceCount;
  }

  /**
   * A scheduler's answer or the seed's watch: digests, parents to add (the daemon keeps the ones it has), the
   * seed's children when they changed.
   */
  absorb(known: number, parents: readonly string[] | undefined, now: number, swarm?: readonly string[]): void {
    if (known > this.known && this.#seed) this.#gainedAt = now;
    for (let i = this.known; i < known; i++) this.#seedHadAt[i] = now;
    this.known = Math.max(this.known, known);
    if (swarm) {
      this.#swarm = swarm.filter((id) => id !== this.peerId).map((id) => this.#world.hashOf(id));
      const group = new Set(this.#swarm);
      for (const link of this.#links) this.#setInGroup(link, group.has(link.hash));
    }
    for (const peerId of parents ?? []) {
      if (peerId === this.peerId || this.#links.some((l) => l.peerId === peerId)) continue;
      const link = this.#world.link(this, peerId);
      this.#links.push(link);
      this.#gainedAt = now;
      if (link.isSeed) this.#seed = link;
      if (link.holder) {
        link.holder.watchers.push(this);
        for (let i = 0; i < this.pieceCount; i++) if (link.holder.has(i)) this.#holders[i]!++;
        this.#setInGroup(link, this.#swarm?.includes(link.hash) ?? false);
      }
    }
    this.#world.wake(this);
  }

  /** A daemon parent (`from`, its download) finished a piece. */
  parentHas(index: number, now: number, from: Download): void {
    if (this.#links.find((l) => l.holder === from)?.inGroup) this.#groupHolders[index]!++;
    this.#holders[index]!++;
    this.#gainedAt = now;
    if (this.#state[index] === MISSING) this.#world.wake(this);
  }

  /** Starts requests until --pieces-in-flight are running (PieceDownload.#fill without failures). */
  fill(now: number): void {
    if (this.complete) return;
    this.#checkFrontier(now);
    let free = this.#world.piecesInFlight(this) - this.#inFlight;
    if (this.#frontierFromOrigin) {
      const end = Math.min(this.pieceCount, this.#frontier + DAEMON.inOrderWindow);
      for (let i = this.#frontier; i < end && free > 0; i++) {
        if (this.#state[i] === MISSING && !this.#requestable(i, now)) {
          this.#fromOrigin(i, now);
          free--;
        }
      }
    }
    if (free <= 0) return;
    const picks = pickPieces(
      {
        frontier: this.#frontier,
        end: Math.min(this.known, this.pieceCount),
        window: DAEMON.inOrderWindow,
        requestable: (i) => this.#requestable(i, now),
        // ParentPool.holdersOutsideSeedGroup: a piece only the group holds is the swarm's rarest.
        holders: (i) => this.#holders[i]! - this.#groupHolders[i]!,
        tie: (i) => mix(this.#hash, i),
      },
      free * 4,
    );
    for (const index of picks) {
      if (free <= 0) break;
      const parent = this.#parentFor(index, now);
      if (!parent) continue;
      this.#fromParent(index, parent, now);
      free--;
    }
  }

  /** A piece arrived (from `parent`, or from the origin when undefined). */
  onPiece(index: number, parent: ParentLink | undefined, at: number, requestedAt: number): void {
    this.#inFlight--;
    if (parent) {
      parent.inFlight--;
      this.#pieceMs += (at - requestedAt - this.#pieceMs) / 8;
    }
    this.#state[index] = DONE;
    this.#done++;
    this.pendingFinished.push(index);
    if (index === this.#frontier) {
      while (this.#frontier < this.pieceCount && this.#state[this.#frontier] === DONE) this.#frontier++;
      this.#frontierSince = at;
      if (parent) this.#frontierFromOrigin = false;
    }
    for (const child of this.watchers) child.parentHas(index, at, this);
    if (this.complete) {
      this.doneAt = at;
      this.#world.finished(this, at);
    } else {
      this.#world.wake(this);
    }
  }

  /** The parent had no free upload slot: rest it, report it (busy costs no penalty), pick again. */
  onBusy(index: number, parent: ParentLink, now: number, retryAfterMs: number): void {
    this.#inFlight--;
    parent.inFlight--;
    this.#state[index] = MISSING;
    parent.busyUntil = now + Math.min(DAEMON.maxBusyBackoffMs, Math.max(DAEMON.minBusyBackoffMs, retryAfterMs));
    this.pendingFailed++;
    this.#world.wake(this);
  }

  /** Counts received bytes by where they came from. */
  received(source: Source, bytes: number, firstByteAt: number): void {
    this.bytes[source] += bytes;
    if (firstByteAt < this.firstByteAt) this.firstByteAt = firstByteAt;
  }

  #fromParent(index: number, parent: ParentLink, now: number): void {
    this.#state[index] = FETCHING;
    this.#inFlight++;
    parent.inFlight++;
    this.#world.requestPiece(this, parent, index, now);
  }

  #fromOrigin(index: number, now: number): void {
    this.#state[index] = FETCHING;
    this.#inFlight++;
    this.#world.fromOrigin(this, index, now);
  }

  #requestable(index: number, now: number): boolean {
    if (this.#state[index] !== MISSING || index >= this.known) return false;
    // Fast paths: nobody but the seed could have it and we have no seed; a daemon parent holds it and none rests.
    if (this.#holders[index] === 0 && !this.#seed) return false;
    if (this.#holders[index]! > 0 && !this.#anyBusy(now)) return true;
    return this.#parentFor(index, now, false) !== undefined;
  }

  #anyBusy(now: number): boolean {
    for (const link of this.#links) if (link.busyUntil > now) return true;
    return false;
  }

  /**
   * PieceDownload.#parentFor + ParentPool.choose: never before the digest is known; other daemons before the seed,
   * the least loaded first (ties at random); the seed within the child's share of it. Without `choose` any usable
   * parent is returned (an availability check: no random draw).
   */
  #parentFor(index: number, now: number, choose = true): ParentLink | undefined {
    if (index >= this.known) return undefined;
    let seedLimit = Number.POSITIVE_INFINITY;
    if (this.#links.length > 1 && this.#seed) {
      const first = this.#firstFetcher(index);
      // The wait counts from when the reader got there, or from when the seed got the piece if that was later.
      const waitingSince = Math.max(this.#frontierSince, this.#seedHadAt[index]!);
      if (index !== this.#frontier) seedLimit = first ? DAEMON.seedShare : 0;
      else if (!first && now - waitingSince < this.#patienceMs()) seedLimit = 0;
    }
    if (this.#holders[index] === 0 && (seedLimit === 0 || !this.#seed)) return undefined;
    let best: ParentLink | undefined;
    let bestScore = Number.POSITIVE_INFINITY;
    for (const link of this.#links) {
      if (link.busyUntil > now) continue;
      if (link.isSeed ? link.inFlight >= seedLimit : !link.holder!.has(index)) continue;
      if (!choose) return link;
      const score = (link.isSeed ? 1_000 : 0) + link.inFlight + this.#world.rng.next() * 0.5;
      if (score < bestScore) {
        best = link;
        bestScore = score;
      }
    }
    return best;
  }

  /** Counts the parent's pieces as held inside the seed group, or no longer. */
  #setInGroup(link: ParentLink, inGroup: boolean): void {
    if (!link.holder || link.inGroup === inGroup) return;
    link.inGroup = inGroup;
    const step = inGroup ? 1 : -1;
    for (let i = 0; i < this.pieceCount; i++) if (link.holder.has(i)) this.#groupHolders[i]! += step;
  }

  /** ParentPool.firstFetcher: do we rank first for this piece among the seed's children (else us and our daemon parents)? */
  #firstFetcher(index: number): boolean {
    const own = mix(this.#hash, index);
    if (this.#swarm) {
      for (const hash of this.#swarm) if (mix(hash, index) < own) return false;
      return true;
    }
    for (const link of this.#links) if (!link.isSeed && mix(link.hash, index) < own) return false;
    return true;
  }

  #patienceMs(): number {
    return Math.min(DAEMON.pieceTimeoutMs / 2, Math.max(DAEMON.minPatienceMs, DAEMON.frontierPieceTimes * this.#pieceMs));
  }

  /** The reader waits on the frontier piece: when the origin sends it instead (see OriginFallback; PieceSources.checkFrontier). */
  #checkFrontier(now: number): void {
    if (this.#frontierFromOrigin || this.#frontier >= this.pieceCount) return;
    const waited = now - this.#frontierSince;
    const patience = this.#world.originFallback === 'stalled' ? DAEMON.heldFrontierDeadlines * DAEMON.pieceTimeoutMs : DAEMON.pieceTimeoutMs;
    if (this.#state[this.#frontier] !== MISSING || waited < patience) return;
    if (this.#requestable(this.#frontier, now)) return;
    if (this.#world.originFallback === 'stalled') {
      const held = this.#holders[this.#frontier]! > 0 || (this.#seed !== undefined && this.#frontier < this.known);
      if (!held && now - this.#gainedAt < patience) return;
    }
    this.#frontierFromOrigin = true;
  }

}
