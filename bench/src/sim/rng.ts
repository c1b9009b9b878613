import { pieceRank } from '../../../daemon/src/swarm/piece-rank.ts';

/** A small seeded PRNG (mulberry32): the same --rng-seed gives the same run, bit for bit. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Fisher–Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }
}

/**
 * A well-mixed 32-bit hash of two integers: first-fetcher ranks, piece order, rendezvous order. The daemon's own
 * piece rank, so simulated daemons order pieces exactly as real ones do.
 */
export const mix: (a: number, b: number) => number = pieceRank;
