/** What a piece-order policy may look at: the download's progress and the parents' availability. */
export interface PieceAvailability {
  readonly pieceCount: number;
  /** The first piece not yet written: the HTTP reader is waiting on it. */
  readonly frontier: number;
  /** Missing, not in flight, and some parent may be asked for it now. */
  requestable(index: number): boolean;
  /** How many parents other than the seed hold the piece: how many daemons could pass it on (rarity). */
  holders(index: number): number;
}

/** Decides which pieces to request next. */
export interface PieceOrder {
  /** Up to `count` requestable pieces, most wanted first. */
  pick(availability: PieceAvailability, count: number): number[];
}

/**
 * The reader's next piece first, then the following `window - 1` pieces in order when another daemon holds them
 * (the HTTP client streams the contiguous prefix, so these are what it waits on next), then everything else
 * rarest-first — pieces no daemon holds yet before pieces one daemon holds, and so on — earliest first among
 * equals, so the swarm fills in roughly in the order readers need.
 */
export class WindowThenRarest implements PieceOrder {
  readonly #window: number;

  constructor(window: number) {
    this.#window = window;
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
    const rest: Array<{ index: number; holders: number }> = [];
    for (let i = frontier; i < pieceCount; i++) {
      if (!inOrder.has(i) && availability.requestable(i)) rest.push({ index: i, holders: availability.holders(i) });
    }
    rest.sort((a, b) => a.holders - b.holders || a.index - b.index);
    for (const { index } of rest.slice(0, count - picked.length)) picked.push(index);
    return picked;
  }
}
