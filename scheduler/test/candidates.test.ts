/*
 * The parent policy's question (scheduler/src/parents/candidates.ts): the seed and a bounded random sample of a task's
 * peers, whatever the task's size, and a lookup for peers outside the sample.
 */
import { describe, expect, it } from 'vitest';
import { HostRegistry } from '../src/hosts.ts';
import { CANDIDATE_SAMPLE, parentRequest, samplePeers } from '../src/parents/candidates.ts';
import { PenaltyBox } from '../src/parents/penalties.ts';
import { TaskTable } from '../src/tasks.ts';

function taskWith(peers: number) {
  const hosts = new HostRegistry(30_000);
  const tasks = new TaskTable();
  const task = tasks.create({ digest: 'sha256:t', size: 10, pieceLength: 1, pieceCount: 10, pieceDigests: new Array<string | null>(10).fill(null) }, { registry: 'r', repository: 'x' }, 0);
  for (let i = 0; i < peers; i++) {
    hosts.register(`p${i}`, { addresses: ['/ip4/10.0.0.1/tcp/1'], uploadSlots: 200 }, 0);
    tasks.join(task, `p${i}`, 0);
  }
  let state = 7;
  // A fixed sequence, so the test sees the same samples every run.
  const random = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return { state: { hosts, tasks, penalties: new PenaltyBox(), random }, task, tasks };
}

const seed = { peerId: 'seed', piecesReady: 3, uploadSlots: 200, hasBytes: true };

describe('parentRequest', () => {
  it('asks with the seed and at most CANDIDATE_SAMPLE distinct peers, however many are in the task', () => {
    for (const size of [5, CANDIDATE_SAMPLE, 10_000]) {
      const { state, task, tasks } = taskWith(size);
      const child = tasks.join(task, 'p0', 0);
      const request = parentRequest(state, task, seed, child, 4, 0);
      const peers = request.candidates.filter((c) => !c.isSeed).map((c) => c.peerId);
      expect(request.candidates[0]).toMatchObject({ peerId: 'seed', isSeed: true, piecesHeld: 3 });
      expect(peers).toHaveLength(Math.min(size, CANDIDATE_SAMPLE));
      expect(new Set(peers).size).toBe(peers.length);
      expect(request).toMatchObject({ requester: 'p0', task: 'sha256:t', pieceCount: 10, k: 4 });
    }
  });

  it('looks up a peer outside the sample; not one that left or whose host expired', () => {
    const { state, task, tasks } = taskWith(1000);
    const request = parentRequest(state, task, seed, tasks.join(task, 'p0', 0), 4, 0);
    expect(request.lookup('p999')).toMatchObject({ peerId: 'p999', isSeed: false, piecesHeld: 0, activeChildren: 0 });
    tasks.removePeer('p999');
    expect(task.peers.size).toBe(task.peerList.length);
    expect(request.lookup('p999')).toBeUndefined();
    expect(parentRequest(state, task, seed, tasks.join(task, 'p0', 0), 4, 60_000).lookup('p998')).toBeUndefined();
  });
});

describe('samplePeers', () => {
  it('draws every peer about equally often', () => {
    const { state, task } = taskWith(100);
    const counts = new Map<string, number>();
    for (let round = 0; round < 2000; round++) for (const peer of samplePeers(task.peerList, 10, state.random)) counts.set(peer.peerId, (counts.get(peer.peerId) ?? 0) + 1);
    expect(counts.size).toBe(100);
    // 200 draws each on average.
    for (const count of counts.values()) expect(count).toBeGreaterThan(130);
    for (const count of counts.values()) expect(count).toBeLessThan(270);
  });
});
