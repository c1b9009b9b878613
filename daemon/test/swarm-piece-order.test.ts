import { describe, expect, it } from 'vitest';
import { WindowThenRarest, type PieceAvailability } from '../src/swarm/piece-order.ts';

function availability(holders: number[], frontier: number, unavailable: number[] = []): PieceAvailability {
  const skip = new Set(unavailable);
  return {
    pieceCount: holders.length,
    frontier,
    requestable: (i) => !skip.has(i) && (holders[i] ?? 0) > 0,
    holders: (i) => holders[i] ?? 0,
  };
}

/** Deterministic "random" source: a fixed sequence. */
function sequence(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

describe('WindowThenRarest', () => {
  it('takes the in-order window from the frontier first, whatever the rarity', () => {
    const order = new WindowThenRarest(10, 3, sequence([0.5]));
    const picked = order.pick(availability([5, 5, 5, 5, 5, 1, 1, 1, 1, 1], 2), 3);
    expect(picked).toEqual([2, 3, 4]);
  });

  it('skips pieces in the window that cannot be requested, then goes rarest-first beyond it', () => {
    const order = new WindowThenRarest(10, 3, sequence([0.5]));
    const holders = [0, 0, 3, 3, 3, 4, 2, 1, 3, 0];
    // Frontier 2: window 2..4, piece 3 is in flight.
    const picked = order.pick(availability(holders, 2, [3]), 5);
    expect(picked.slice(0, 2)).toEqual([2, 4]);
    expect(picked.slice(2)).toEqual([7, 6, 8]);
  });

  it('never returns more than asked, nor pieces nobody holds', () => {
    const order = new WindowThenRarest(6, 2);
    const holders = [1, 0, 1, 0, 1, 0];
    expect(order.pick(availability(holders, 0), 10).sort()).toEqual([0, 2, 4]);
    expect(order.pick(availability(holders, 0), 2)).toHaveLength(2);
    expect(order.pick(availability(holders, 0), 0)).toEqual([]);
    expect(order.pick(availability(holders, 6), 4)).toEqual([]);
  });

  it('breaks rarity ties differently per download, so children spread over the swarm', () => {
    const holders = Array<number>(64).fill(1);
    const firsts = new Set<string>();
    for (let seed = 0; seed < 8; seed++) {
      let state = seed + 1;
      const random = () => ((state = (state * 48271) % 2147483647) / 2147483647);
      firsts.add(new WindowThenRarest(64, 0, random).pick(availability(holders, 0), 4).join(','));
    }
    expect(firsts.size).toBeGreaterThan(4);
  });

  it('keeps the same tie order within one download', () => {
    const order = new WindowThenRarest(32, 0);
    const holders = Array<number>(32).fill(2);
    expect(order.pick(availability(holders, 0), 8)).toEqual(order.pick(availability(holders, 0), 8));
  });
});
