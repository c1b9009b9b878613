/*
 * The seed-group parent policy (scheduler/src/parents/seed-group.ts), which `bench sim --policy seed-group` runs:
 * its rules on hand-made candidates, and its effect in a small simulation.
 */
import { describe, expect, it } from 'vitest';
import type { ParentCandidate, ParentRequest } from '../../scheduler/src/parents/policy.ts';
import { SeedGroupPolicy } from '../../scheduler/src/parents/seed-group.ts';
import { runSimulation } from '../src/sim/engine.ts';
import { loadSimOptions } from '../src/sim/options.ts';

const PIECES = 100;

function peer(peerId: string, over: Partial<ParentCandidate> = {}): ParentCandidate {
  return { peerId, isSeed: false, piecesHeld: 0, uploadSlots: 200, activeChildren: 0, sameZone: true, penalty: 0, ...over };
}
const seed = (over: Partial<ParentCandidate> = {}) => peer('seed', { isSeed: true, piecesHeld: PIECES, ...over });
/** Every candidate is in the task; `lookup` finds any of them (as if the sample had missed them). */
const request = (candidates: ParentCandidate[], over: Partial<ParentRequest> = {}): ParentRequest => ({
  requester: 'child',
  task: 'sha256:t',
  pieceCount: PIECES,
  k: 4,
  candidates,
  exclude: new Set(),
  lookup: (id) => candidates.find((c) => c.peerId === id && !c.isSeed),
  ...over,
});
const ids = (chosen: ParentCandidate[]) => chosen.map((c) => c.peerId);

/** A policy whose seed group (size 4) is already g1..g4. */
function withGroup(): { policy: SeedGroupPolicy; group: ParentCandidate[] } {
  const policy = new SeedGroupPolicy({ groupSize: 4 });
  const group = ['g1', 'g2', 'g3', 'g4'].map((id) => peer(id));
  for (const member of group) policy.choose(request([seed(), ...group], { requester: member.peerId }));
  return { policy, group };
}

describe('SeedGroupPolicy', () => {
  it('hands the seed to the first --seed-group-size children; a member gets K - 1 mates, and K - 1 others once they hold pieces', () => {
    const policy = new SeedGroupPolicy({ groupSize: 6 });
    const members = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6'];
    // The seed is swamped and scores low: members get it anyway.
    const candidates = [seed({ activeChildren: 99, penalty: 5 }), ...members.map((id) => peer(id))];
    for (const member of members) {
      const chosen = ids(policy.choose(request(candidates, { requester: member })));
      expect(chosen[0]).toBe('seed');
      expect(chosen.length).toBeLessThanOrEqual(4);
      for (const mate of chosen.slice(1)) expect(members).toContain(mate);
    }
    expect(ids(policy.choose(request(candidates, { requester: 'late' })))).not.toContain('seed');
    const holding = [...candidates, ...['x', 'y', 'z', 'w'].map((id) => peer(id, { piecesHeld: 10 }))];
    const chosen = ids(policy.choose(request(holding, { requester: 'm1' })));
    expect(chosen).toHaveLength(7);
    expect(chosen.filter((id) => ['x', 'y', 'z', 'w'].includes(id))).toHaveLength(3);
    expect(policy.parentsWanted('m1', 'sha256:t', 4)).toBe(7);
    expect(policy.parentsWanted('late', 'sha256:t', 4)).toBe(4);
    expect(policy.parentsWanted('m1', 'sha256:other', 4)).toBe(4);
  });

  it('makes room in the group when a member is no longer in the task', () => {
    const { policy, group } = withGroup();
    const candidates = [seed(), ...group, peer('e')];
    expect(ids(policy.choose(request(candidates, { requester: 'e' })))).not.toContain('seed');
    expect(ids(policy.choose(request(candidates.filter((c) => c.peerId !== 'g4'), { requester: 'e' })))[0]).toBe('seed');
  });

  it('gives ⌈K/2⌉ parents while no daemon holds a piece, K once one does', () => {
    const { policy, group } = withGroup();
    const idle = [seed(), ...group, ...['a', 'b', 'c'].map((id) => peer(id))];
    expect(policy.choose(request(idle))).toHaveLength(2);
    const started = idle.map((c) => (c.peerId === 'a' ? { ...c, piecesHeld: 1 } : c));
    expect(policy.choose(request(started))).toHaveLength(4);
  });

  it('gives the seed to a child with no other candidate, never the requester or excluded peers', () => {
    const { policy, group } = withGroup();
    expect(ids(policy.choose(request([seed(), ...group], { exclude: new Set(group.map((g) => g.peerId)) })))).toEqual(['seed']);
    const chosen = ids(policy.choose(request([seed(), ...group, peer('child'), peer('x', { piecesHeld: 5 })], { exclude: new Set(['g1']) })));
    expect(chosen).not.toContain('child');
    expect(chosen).not.toContain('g1');
  });

  it('ranks by load first: children spread evenly over parents, whatever their progress; the same child gets the same answer', () => {
    const policy = new SeedGroupPolicy({ groupSize: 1 });
    policy.choose(request([seed(), peer('member')], { requester: 'member' }));
    const parents = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((id, i) => peer(id, { piecesHeld: 10 * i }));
    const picks = new Map<string, number>();
    for (let child = 0; child < 40; child++) {
      const [chosen] = policy.choose(request(parents, { requester: `c${child}`, k: 1 }));
      chosen!.activeChildren++;
      picks.set(chosen!.peerId, (picks.get(chosen!.peerId) ?? 0) + 1);
    }
    expect([...picks.values()]).toEqual(new Array(8).fill(5));
    expect(policy.choose(request(parents, { requester: 'c0', k: 2 }))).toEqual(policy.choose(request(parents, { requester: 'c0', k: 2 })));
  });
});

describe('bench sim --policy seed-group', () => {
  it('sends each piece from the seed about once, where the default policy sends it many times', () => {
    const options = loadSimOptions(['--nodes', '60', '--image-size', '64MiB', '--link-rate', '100MB', '--policy', 'load-aware,seed-group'], {});
    const [loadAware, seedGroup] = options.runs.map((config) => runSimulation(config));
    const S = 64 * 2 ** 20;
    expect(loadAware!.ok && seedGroup!.ok).toBe(true);
    expect(seedGroup!.seedEgressBytes / S).toBeLessThan(1.5);
    expect(loadAware!.seedEgressBytes / S).toBeGreaterThan(2);
    const slowest = (o: typeof seedGroup) => Math.max(...o!.nodes.map((n) => n.doneSeconds));
    expect(slowest(seedGroup)).toBeLessThan(slowest(loadAware));
  });
});

describe('bench sim --origin-fallback stalled', () => {
  it('on slow links the origin sends the blob once: a daemon waits while its swarm still gains pieces', () => {
    const run = runSimulation(loadSimOptions(['--nodes', '40', '--image-size', '64MiB', '--link-rate', '10MB', '--policy', 'seed-group', '--origin-fallback', 'stalled'], {}).runs[0]!);
    expect(run.ok).toBe(true);
    expect(run.originEgressBytes).toBe(64 * 2 ** 20);
  });
});
