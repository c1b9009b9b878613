import { describe, expect, it } from 'vitest';
import { WindowThenRarest, type PieceAvailability } from '../src/swarm/piece-order.ts';

/** `holders[i]`: daemons holding piece i; `unavailable`: pieces not requestable (done, in flight, nobody to ask). */
function availability(holders: number[], frontier: number, unavailable: number[] = []): PieceAvailability {
  const skip = new Set(unavailable);
  return {
    pieceCount: holders.length,
    frontier,
    requestable: (i) => i >= frontier && !skip.has(i),
    holders: (i) => holders[i] ?? 0,
  };
}

describe('WindowThenRarest', () => {
  it('takes the reader’s next piece first, then the window pieces other daemons hold, in order', () => {
    const order = new WindowThenRarest(4);
    //              0  1  2  3  4  5  6  7
    const holders = [0, 0, 0, 2, 1, 3, 0, 1];
    expect(order.pick(availability(holders, 2), 3)).toEqual([2, 3, 4]);
  });

  it('then goes rarest-first, pieces no daemon holds yet before the others, earliest first among equals', () => {
    const order = new WindowThenRarest(3);
    //              0  1  2  3  4  5  6  7  8
    const holders = [0, 0, 3, 0, 2, 1, 0, 1, 2];
    // Frontier 1; window 1..3: piece 1 (next), piece 2 (held); piece 3 is held by nobody: it goes with the rarest.
    expect(order.pick(availability(holders, 1), 9)).toEqual([1, 2, 3, 6, 5, 7, 4, 8]);
  });

  it('skips pieces that cannot be requested and never returns more than asked', () => {
    const order = new WindowThenRarest(2);
    const holders = [1, 1, 1, 1, 1, 1];
    expect(order.pick(availability(holders, 0, [0, 3]), 10)).toEqual([1, 2, 4, 5]);
    expect(order.pick(availability(holders, 0), 2)).toEqual([0, 1]);
    expect(order.pick(availability(holders, 0), 0)).toEqual([]);
    expect(order.pick(availability(holders, 6), 4)).toEqual([]);
  });
});
