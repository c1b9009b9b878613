/*
 * What the parent policy is asked with: a bounded random sample of a task's possible parents as the scheduler sees
 * them at one moment, and when a child's parents must be chosen again. The same rules as SchedService's parent
 * choice, as plain functions of the host registry, the task table and the penalties, so `flotilla bench sim` drives
 * them on simulated time without a libp2p service around them; SchedService calls the same functions.
 */
import type { HostRegistry } from '../hosts.ts';
import type { Task, TaskPeer, TaskTable } from '../tasks.ts';
import type { PenaltyBox } from './penalties.ts';
import type { ParentCandidate, ParentRequest } from './policy.ts';

/**
 * Peers of a task looked at per parent choice (Dragonfly samples 15). Every peer was looked at before: each `task`
 * and `report` of a burst of N children cost O(N), the burst O(N²) — 12 ms of scheduler time per peer at 10,000
 * (bench sim). A sample of this size still finds lightly loaded parents: the policy ranks by load first, and the
 * least loaded of 32 random peers is rarely more than a child above the least loaded of all.
 */
export const CANDIDATE_SAMPLE = 32;

/** The scheduler's own seed of a task, as a parent. */
export interface SeedParent {
  peerId: string;
  /** Pieces [0, piecesReady) are on its disk. */
  piecesReady: number;
  uploadSlots: number;
  /** False for a seed adopted from holders' signed meta: it has no bytes, so it is no parent. */
  hasBytes: boolean;
}

export interface SchedulerState {
  hosts: HostRegistry;
  tasks: TaskTable;
  penalties: PenaltyBox;
  /** Uniform in [0, 1): Math.random, or the simulator's seeded generator. */
  random(): number;
}

/** The policy's question for one child: the seed and a random sample of the task's peers, and a way to look up others. */
export function parentRequest(state: SchedulerState, task: Task, seed: SeedParent, child: TaskPeer, k: number, now: number): ParentRequest {
  const zone = state.hosts.get(child.peerId)?.zone;
  const candidates: ParentCandidate[] = [];
  if (seed.hasBytes) candidates.push(seedCandidate(state, seed, zone, now));
  for (const peer of samplePeers(task.peerList, CANDIDATE_SAMPLE, state.random)) {
    const candidate = peerCandidate(state, peer, zone, now);
    if (candidate) candidates.push(candidate);
  }
  return {
    requester: child.peerId,
    task: task.meta.digest,
    pieceCount: task.meta.pieceCount,
    k,
    candidates,
    exclude: excludedParents(task, child),
    lookup: (peerId) => {
      const peer = task.peers.get(peerId);
      return peer ? peerCandidate(state, peer, zone, now) : undefined;
    },
  };
}

/** Up to `count` distinct peers drawn at random (Floyd's algorithm: O(count) draws, whatever the task's size). */
export function samplePeers(peers: readonly TaskPeer[], count: number, random: () => number): TaskPeer[] {
  if (peers.length <= count) return [...peers];
  const picked = new Set<number>();
  for (let j = peers.length - count; j < peers.length; j++) {
    const r = Math.floor(random() * (j + 1));
    picked.add(picked.has(r) ? j : r);
  }
  return [...picked].map((i) => peers[i]!);
}

function seedCandidate(state: SchedulerState, seed: SeedParent, zone: string | undefined, now: number): ParentCandidate {
  return {
    peerId: seed.peerId,
    isSeed: true,
    piecesHeld: seed.piecesReady,
    uploadSlots: seed.uploadSlots,
    activeChildren: state.tasks.activeChildren(seed.peerId),
    sameZone: zone === undefined,
    penalty: state.penalties.get(seed.peerId, now),
  };
}

/** A peer of the task as a parent; undefined when its host expired or has no address to be reached on. */
function peerCandidate(state: SchedulerState, peer: TaskPeer, zone: string | undefined, now: number): ParentCandidate | undefined {
  const { hosts, tasks, penalties } = state;
  const host = hosts.get(peer.peerId);
  if (!host || !hosts.isAlive(peer.peerId, now) || host.addresses.length === 0) return undefined;
  return {
    peerId: peer.peerId,
    isSeed: false,
    piecesHeld: peer.pieces.count,
    uploadSlots: host.uploadSlots,
    activeChildren: tasks.activeChildren(peer.peerId),
    sameZone: host.zone === zone,
    penalty: penalties.get(peer.peerId, now),
  };
}

/** Peers the child must not get: blocklisted for the task (corrupt pieces) or excluded by the child itself. */
export function excludedParents(task: Task, child: TaskPeer): Set<string> {
  return new Set([...task.blocklist, ...child.excluded]);
}

/** A current parent of the child is blocklisted, excluded, or (the seed aside) on a host that expired. */
export function parentsWentBad(task: Task, child: TaskPeer, hosts: HostRegistry, seedPeerId: string, now: number): boolean {
  return child.parents.some((p) => task.blocklist.has(p) || child.excluded.has(p) || (p !== seedPeerId && !hosts.isAlive(p, now)));
}
