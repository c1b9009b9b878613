import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { silentLogger } from '@flotilla/log';
import type { P2PNode } from '@flotilla/p2p';
import { describe, expect, it } from 'vitest';
import { ParentPool } from '../src/swarm/parent-pool.ts';

const CHILDREN = 10;
const PIECES = 2_000;

/** A pool on a node that only has a peer id (no parent is added, so nothing is dialed). */
function poolOf(peerId: string): ParentPool {
  const node = { peerId: { toString: () => peerId }, addEventListener() {}, removeEventListener() {} } as unknown as P2PNode;
  return new ParentPool({
    node,
    digest: `sha256:${'0'.repeat(64)}`,
    pieceCount: PIECES,
    isSeed: () => false,
    onChange() {},
    onLost() {},
    onDigests() {},
    logger: silentLogger(),
  });
}

describe('first fetchers of fresh pieces', () => {
  it('with the scheduler\'s swarm list, exactly one of the seed\'s children takes each piece from the seed', async () => {
    const ids = await Promise.all(Array.from({ length: CHILDREN }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()));
    const pools = ids.map(poolOf);
    for (const pool of pools) pool.setSwarm(ids);
    const firsts = new Array<number>(CHILDREN).fill(0);
    for (let index = 0; index < PIECES; index++) {
      const takers = pools.map((pool, child) => (pool.firstFetcher(index) ? child : -1)).filter((child) => child >= 0);
      expect(takers).toHaveLength(1);
      firsts[takers[0]!]!++;
    }
    // Spread evenly: each child is first for about a tenth of the pieces.
    for (const count of firsts) expect(count).toBeGreaterThan(PIECES / CHILDREN / 2);
    for (const pool of pools) pool.stop();
  });

  it('counts a piece only the seed group holds as held by nobody: it is the swarm\'s rarest', async () => {
    const [self, member, other] = await Promise.all(Array.from({ length: 3 }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()));
    const pool = poolOf(self!);
    // The fake node cannot dial: the parents stay, with what we mark in their `have`.
    pool.add([member!, other!].map((peerId) => ({ peerId, addresses: [] })));
    pool.get(member!)!.have.add(1);
    pool.get(member!)!.have.add(2);
    pool.get(other!)!.have.add(2);
    expect([0, 1, 2].map((i) => pool.holdersOutsideSeedGroup(i))).toEqual([0, 1, 2]);
    pool.setSwarm([self!, member!]);
    expect([0, 1, 2].map((i) => pool.holdersOutsideSeedGroup(i))).toEqual([0, 0, 1]);
    expect([0, 1, 2].map((i) => pool.daemonsHolding(i))).toEqual([0, 1, 2]);
    pool.stop();
  });
});
