import { describe, expect, it } from 'vitest';
import { WindowThenRarest, type PieceAvailability } from '../src/swarm/piece-order.ts';
import { pieceRank, stringHash } from '../src/swarm/piece-rank.ts';

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

/** Every piece ties: earliest first. */
const byIndex = () => 0;

describe('WindowThenRarest', () => {
  it('takes the reader’s next piece first, then the window pieces other daemons hold, in order', () => {
    const order = new WindowThenRarest(4, byIndex);
    //              0  1  2  3  4  5  6  7
    const holders = [0, 0, 0, 2, 1, 3, 0, 1];
    expect(order.pick(availability(holders, 2), 3)).toEqual([2, 3, 4]);
  });

  it('then goes rarest-first, pieces no daemon holds yet before the others, earliest first among equal ranks', () => {
    const order = new WindowThenRarest(3, byIndex);
    //              0  1  2  3  4  5  6  7  8
    const holders = [0, 0, 3, 0, 2, 1, 0, 1, 2];
    // Frontier 1; window 1..3: piece 1 (next), piece 2 (held); piece 3 is held by nobody: it goes with the rarest.
    expect(order.pick(availability(holders, 1), 9)).toEqual([1, 2, 3, 6, 5, 7, 4, 8]);
  });

  it('skips pieces that cannot be requested and never returns more than asked', () => {
    const order = new WindowThenRarest(2, byIndex);
    const holders = [1, 1, 1, 1, 1, 1];
    expect(order.pick(availability(holders, 0, [0, 3]), 10)).toEqual([1, 2, 4, 5]);
    expect(order.pick(availability(holders, 0), 2)).toEqual([0, 1]);
    expect(order.pick(availability(holders, 0), 0)).toEqual([]);
    expect(order.pick(availability(holders, 6), 4)).toEqual([]);
  });

  it('orders equally rare pieces by its tie rank, so daemons that see the same holders ask for different pieces', () => {
    const tie = [5, 3, 9, 1, 7, 0, 2, 8];
    const order = new WindowThenRarest(1, (i) => tie[i]!);
    //              0  1  2  3  4  5  6  7
    const holders = [0, 1, 1, 1, 1, 2, 1, 2];
    // The frontier (0) first; then the pieces one daemon holds by rank (3:1, 6:2, 1:3, 4:7, 2:9), then the two held twice (5:0, 7:8).
    expect(order.pick(availability(holders, 0), 8)).toEqual([0, 3, 6, 1, 4, 2, 5, 7]);
    const firstPicks = (peer: string) => {
      const hash = stringHash(peer);
      return new WindowThenRarest(1, (i) => pieceRank(hash, i)).pick(availability(new Array<number>(64).fill(1), 0), 9).slice(1);
    };
    const a = firstPicks('12D3KooWA');
    const b = firstPicks('12D3KooWB');
    expect(a).toEqual(firstPicks('12D3KooWA'));
    expect(a.filter((i) => b.includes(i)).length).toBeLessThan(4);
  });
});
