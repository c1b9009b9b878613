/** What a piece-order policy may look at: the download's progress and the parents' availability. */
export interface PieceAvailability {
  readonly pieceCount: number;
  /** The first piece not yet written: the HTTP reader is waiting on it. */
  readonly frontier: number;
  /** Missing, not in flight, and some parent may be asked for it now. */
  requestable(index: number): boolean;
  /** How many parents outside the seed group hold the piece: how many daemons beyond it could pass it on (rarity). */
  holders(index: number): number;
}

/** Decides which pieces to request next. */
export interface PieceOrder {
  /** Up to `count` requestable pieces, most wanted first. */
  pick(availability: PieceAvailability, count: number): number[];
}

/**
 * The reader's next piece first, then the following `window - 1` pieces in order when a daemon outside the seed
 * group holds them (the HTTP client streams the contiguous prefix, so these are what it waits on next), then
 * everything else rarest-first — pieces no such daemon holds yet before pieces one holds, and so on — and among equally rare
 * pieces in this daemon's own pseudo-random order (`tieRank`, lowest first). Earliest-first among equals made every
 * daemon hold the same prefix: a daemon then had nothing its children lacked, and in bench sim the swarm's links
 * carried about 55 % of what they could (p50 2.06× S/B at 100 nodes, 1.40× with a per-daemon order).
 */
export class WindowThenRarest implements PieceOrder {
  readonly #window: number;
  readonly #tieRank: (index: number) => number;

  constructor(window: number, tieRank: (index: number) => number) {
    this.#window = window;
    this.#tieRank = tieRank;
  }

  pick(availability: PieceAvailability, count: number): number[] {
    if (count <= 0) return [];
    const { frontier, pieceCount } = availability;
    const picked: number[] = [];
    const windowEnd = Math.min(pieceCount, frontier + this.#window);
    for (let i = frontier; i < windowEnd && picked.length < count; i++) {
      if (availability.requestable(i) && (i === frontier || availability.holders(i) > 0)) picked.push(i);
    }
    if (picked.length === count) return picked;
    const inOrder = new Set(picked);
    const rest: Array<{ index: number; holders: number; tie: number }> = [];
    for (let i = frontier; i < pieceCount; i++) {
      if (!inOrder.has(i) && availability.requestable(i)) rest.push({ index: i, holders: availability.holders(i), tie: this.#tieRank(i) });
    }
    rest.sort((a, b) => a.holders - b.holders || a.tie - b.tie || a.index - b.index);
    for (const { index } of rest.slice(0, count - picked.length)) picked.push(index);
    return picked;
  }
}
