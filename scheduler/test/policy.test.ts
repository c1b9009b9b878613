import { describe, expect, it } from 'vitest';
import { freeSlots, LoadAwarePolicy, scoreCandidate } from '../src/parents/load-aware.ts';
import { PenaltyBox, PENALTY } from '../src/parents/penalties.ts';
import type { ParentCandidate, ParentRequest } from '../src/parents/policy.ts';

const PIECES = 100;

function peer(peerId: string, over: Partial<ParentCandidate> = {}): ParentCandidate {
  return { peerId, isSeed: false, piecesHeld: 0, uploadSlots: 200, activeChildren: 0, sameZone: true, penalty: 0, ...over };
}

const seed = (over: Partial<ParentCandidate> = {}) => peer('seed', { isSeed: true, piecesHeld: PIECES, ...over });

function request(candidates: ParentCandidate[], over: Partial<ParentRequest> = {}): ParentRequest {
  const byId = (id: string) => candidates.find((c) => c.peerId === id);
  return { requester: 'child', task: 'sha256:t', pieceCount: PIECES, k: 4, candidates, exclude: new Set(), lookup: byId, ...over };
}

const ids = (chosen: ParentCandidate[]) => chosen.map((c) => c.peerId);
const policy = new LoadAwarePolicy();

describe('scoreCandidate', () => {
  it('ranks more pieces, free slots, same zone and a clean record higher', () => {
    const base = peer('p', { piecesHeld: 50, activeChildren: 1 });
    const score = scoreCandidate(base, PIECES);
    expect(scoreCandidate({ ...base, piecesHeld: 80 }, PIECES)).toBeGreaterThan(score);
    expect(scoreCandidate({ ...base, activeChildren: 0 }, PIECES)).toBeGreaterThan(score);
    expect(scoreCandidate({ ...base, sameZone: false }, PIECES)).toBeLessThan(score);
    expect(scoreCandidate({ ...base, penalty: 1 }, PIECES)).toBeLessThan(score);
  });

  it('gives the documented weights at the extremes', () => {
    expect(scoreCandidate(peer('best', { piecesHeld: PIECES }), PIECES)).toBeCloseTo(1, 10);
    // no free slot, no pieces, other zone, heavily penalized
    const worst = peer('worst', { uploadSlots: 2, activeChildren: 1, sameZone: false, penalty: 1e9 });
    expect(freeSlots(worst)).toBe(0);
    expect(scoreCandidate(worst, PIECES)).toBeCloseTo(0, 6);
  });
});

describe('LoadAwarePolicy', () => {
  it('never returns the requester, excluded peers or more than K', () => {
    const candidates = [seed(), peer('child', { piecesHeld: 99 }), ...['a', 'b', 'c', 'd', 'e'].map((id) => peer(id, { piecesHeld: 10 }))];
    const chosen = ids(policy.choose(request(candidates, { exclude: new Set(['a', 'seed']) })));
    expect(chosen).toHaveLength(4);
    expect(chosen).not.toContain('child');
    expect(chosen).not.toContain('a');
    expect(chosen).not.toContain('seed');
  });

  it('keeps the seed while fewer than K others hold pieces, even when it scores lower', () => {
    // The seed is swamped (score low), three others hold pieces: still fewer than K = 4.
    const candidates = [
      seed({ activeChildren: 99, penalty: 5 }),
      ...['a', 'b', 'c'].map((id) => peer(id, { piecesHeld: 90 })),
      ...['x', 'y'].map((id) => peer(id)),
    ];
    const chosen = ids(policy.choose(request(candidates)));
    expect(chosen).toHaveLength(4);
    expect(chosen).toContain('seed');
    expect(chosen.filter((id) => ['a', 'b', 'c'].includes(id))).toHaveLength(3);
  });

  it('lets a busy seed drop out once K others hold pieces', () => {
    const candidates = [seed({ activeChildren: 99 }), ...['a', 'b', 'c', 'd', 'e'].map((id) => peer(id, { piecesHeld: 60 }))];
    expect(ids(policy.choose(request(candidates)))).not.toContain('seed');
  });

  it('skips peers with no free upload slot', () => {
    const full = peer('full', { piecesHeld: PIECES, uploadSlots: 4, activeChildren: 2 });
    expect(ids(policy.choose(request([seed(), full, peer('idle')])))).toEqual(['seed', 'idle']);
  });

  it('prefers the same zone and healthy peers among equals', () => {
    const candidates = [peer('far', { piecesHeld: 50, sameZone: false }), peer('near', { piecesHeld: 50 })];
    expect(ids(policy.choose(request(candidates, { k: 1 })))).toEqual(['near']);
    const flaky = [peer('flaky', { piecesHeld: 50, penalty: 2 }), peer('steady', { piecesHeld: 50 })];
    expect(ids(policy.choose(request(flaky, { k: 1 })))).toEqual(['steady']);
  });

  it('spreads a burst of children over the parents instead of handing one parent to everyone', () => {
    // Eight children arrive together; each assignment adds load, as TaskTable.setParents does.
    const parents = ['a', 'b', 'c', 'd'].map((id) => peer(id, { piecesHeld: 50 }));
    const picks = new Map<string, number>();
    for (let child = 0; child < 8; child++) {
      const [chosen] = policy.choose(request(parents, { requester: `c${child}`, k: 1 }));
      chosen!.activeChildren++;
      picks.set(chosen!.peerId, (picks.get(chosen!.peerId) ?? 0) + 1);
    }
    expect([...picks.values()]).toEqual([2, 2, 2, 2]);
  });

  it('returns nothing when every candidate is excluded', () => {
    expect(policy.choose(request([seed(), peer('a')], { exclude: new Set(['seed', 'a']) }))).toEqual([]);
  });
});

describe('PenaltyBox', () => {
  it('halves penalties every 30 s and forgets them', () => {
    const box = new PenaltyBox();
    box.add('p', PENALTY.failure, 0);
    box.add('p', PENALTY.failure, 0);
    expect(box.get('p', 0)).toBe(2);
    expect(box.get('p', 30_000)).toBeCloseTo(1, 10);
    expect(box.get('p', 60_000)).toBeCloseTo(0.5, 10);
    expect(box.get('p', 30 * 60_000)).toBe(0);
    expect(box.get('other', 0)).toBe(0);
  });
});
