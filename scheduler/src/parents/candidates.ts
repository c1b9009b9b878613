/*
 * What the parent policy is asked with: every possible parent of a task as the scheduler sees it at one moment,
 * and when a child's parents must be chosen again. The same rules as SchedService's parent choice, as plain
 * functions of the host registry, the task table and the penalties, so `flotilla bench sim` drives them on
 * simulated time without a libp2p service around them; SchedService calls the same functions.
 */
import type { HostRegistry } from '../hosts.ts';
import type { Task, TaskPeer, TaskTable } from '../tasks.ts';
import type { PenaltyBox } from './penalties.ts';
import type { ParentCandidate } from './policy.ts';

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
}

/** The seed (when it has bytes) and every live, reachable peer of the task, the child included (the policy drops it). */
export function parentCandidates(state: SchedulerState, task: Task, seed: SeedParent, child: TaskPeer, now: number): ParentCandidate[] {
  const { hosts, tasks, penalties } = state;
  const zone = hosts.get(child.peerId)?.zone;
  const candidates: ParentCandidate[] = [];
  if (seed.hasBytes) {
    candidates.push({
      peerId: seed.peerId,
      isSeed: true,
      piecesHeld: seed.piecesReady,
      uploadSlots: seed.uploadSlots,
      activeChildren: tasks.activeChildren(seed.peerId),
      sameZone: zone === undefined,
      penalty: penalties.get(seed.peerId, now),
    });
  }
  for (const peer of task.peers.values()) {
    const host = hosts.get(peer.peerId);
    if (!host || !hosts.isAlive(peer.peerId, now) || host.addresses.length === 0) continue;
    candidates.push({
      peerId: peer.peerId,
      isSeed: false,
      piecesHeld: peer.pieces.count,
      uploadSlots: host.uploadSlots,
      activeChildren: tasks.activeChildren(peer.peerId),
      sameZone: host.zone === zone,
      penalty: penalties.get(peer.peerId, now),
    });
  }
  return candidates;
}

/** Peers the child must not get: blocklisted for the task (corrupt pieces) or excluded by the child itself. */
export function excludedParents(task: Task, child: TaskPeer): Set<string> {
  return new Set([...task.blocklist, ...child.excluded]);
}

/** A current parent of the child is blocklisted, excluded, or (the seed aside) on a host that expired. */
export function parentsWentBad(task: Task, child: TaskPeer, hosts: HostRegistry, seedPeerId: string, now: number): boolean {
  return child.parents.some((p) => task.blocklist.has(p) || child.excluded.has(p) || (p !== seedPeerId && !hosts.isAlive(p, now)));
}
