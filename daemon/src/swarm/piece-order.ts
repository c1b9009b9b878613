/** What a piece-order policy may look at: the download's progress and the parents' availability. */
export interface PieceAvailability {
  readonly pieceCount: number;
  /** The first piece not yet written: the HTTP reader is waiting on it. */
  readonly frontier: number;
  /** Missing, not in flight, digest known, and held by at least one usable parent. */
  requestable(index: number): boolean;
  /** How many usable parents hold the piece (rarity). */
  holders(index: number): number;
}

/** Decides which pieces to request next. */
export interface PieceOrder {
  /** Up to `count` requestable pieces, most wanted first. */
  pick(availability: PieceAvailability, count: number): number[];
}

/**
 * The next `window` pieces from the reader's frontier in order (the HTTP client streams the contiguous prefix, so
 * these are what it waits on), then rarest-first beyond: pieces few parents hold get copied into the swarm early,
 * which is what lets children serve each other instead of all queueing on the seed. Ties are broken by a random
 * permutation fixed per download, so daemons started together spread over different pieces.
 */
export class WindowThenRarest implements PieceOrder {
  readonly #window: number;
  /** piece index → tie-break rank. */
  readonly #tieBreak: Uint32Array;

  constructor(pieceCount: number, window: number, random: () => number = Math.random) {
    this.#window = window;
    this.#tieBreak = shuffledRanks(pieceCount, random);
  }

  pick(availability: PieceAvailability, count: number): number[] {
    if (count <= 0) return [];
    const picked: number[] = [];
    const windowEnd = Math.min(availability.pieceCount, availability.frontier + this.#window);
    for (let i = availability.frontier; i < windowEnd && picked.length < count; i++) {
      if (availability.requestable(i)) picked.push(i);
    }
    if (picked.length === count) return picked;
    const beyond: Array<{ index: number; holders: number }> = [];
    for (let i = windowEnd; i < availability.pieceCount; i++) {
      if (availability.requestable(i)) beyond.push({ index: i, holders: availability.holders(i) });
    }
    beyond.sort((a, b) => a.holders - b.holders || this.#tieBreak[a.index]! - this.#tieBreak[b.index]!);
    for (const { index } of beyond.slice(0, count - picked.length)) picked.push(index);
    return picked;
  }
}

/** A Fisher–Yates permutation of 0..n-1, as ranks. */
function shuffledRanks(n: number, random: () => number): Uint32Array {
  const ranks = new Uint32Array(n);
  for (let i = 0; i < n; i++) ranks[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = ranks[i]!;
    ranks[i] = ranks[j]!;
    ranks[j] = t;
  }
  return ranks;
}
