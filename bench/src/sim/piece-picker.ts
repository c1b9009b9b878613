/*
 * The daemon's piece order (daemon/src/swarm/piece-order.ts, WindowThenRarest) in one pass without sorting, for
 * millions of picks: the reader's next piece and the following window - 1 pieces in order when a daemon parent
 * holds them, then the rest rarest first (fewest daemon parents outside the seed group holding it), ties in the daemon's own pseudo-random
 * order (`tie`, lowest first). Only pieces in [frontier, end) are looked at: nothing past the known digests is
 * requestable. A test holds it to the daemon's own class.
 */

export interface PickView {
  /** The first piece not yet written. */
  frontier: number;
  /** One past the last piece worth looking at. */
  end: number;
  window: number;
  /** Missing, not in flight, and some parent may be asked for it now. */
  requestable(index: number): boolean;
  /** How many daemon parents outside the seed group hold the piece (its rarity). */
  holders(index: number): number;
  /** The piece's place among equally rare ones (lower first): the daemon's tieRank. */
  tie(index: number): number;
}

/** Up to `count` requestable pieces, most wanted first. */
export function pickPieces(view: PickView, count: number): number[] {
  const picked: number[] = [];
  if (count <= 0) return picked;
  const { frontier, end } = view;
  const windowEnd = Math.min(end, frontier + view.window);
  for (let i = frontier; i < windowEnd && picked.length < count; i++) {
    if ((i === frontier || view.holders(i) > 0) && view.requestable(i)) picked.push(i);
  }
  if (picked.length === count) return picked;
  const want = count - picked.length;
  // buckets[h]: the `want` requestable pieces held by h daemon parents that come first in tie order, kept sorted.
  const buckets: { index: number; tie: number }[][] = [];
  let bestFull = Number.POSITIVE_INFINITY;
  for (let i = frontier; i < end; i++) {
    if (i < windowEnd && picked.includes(i)) continue;
    const h = view.holders(i);
    // A bucket above a full lower one can contribute nothing.
    if (h > bestFull) continue;
    if (!view.requestable(i)) continue;
    const bucket = (buckets[h] ??= []);
    const tie = view.tie(i);
    if (bucket.length === want && tie >= bucket[want - 1]!.tie) continue;
    let at = bucket.length;
    while (at > 0 && bucket[at - 1]!.tie > tie) at--;
    bucket.splice(at, 0, { index: i, tie });
    if (bucket.length > want) bucket.pop();
    if (bucket.length === want && h < bestFull) bestFull = h;
  }
  for (const bucket of buckets) {
    if (!bucket) continue;
    for (const { index } of bucket) {
      if (picked.length === count) return picked;
      picked.push(index);
    }
  }
  return picked;
}
