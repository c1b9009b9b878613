import { LIMITS, type SwarmList } from '@flotilla/wire';
import type { Task, TaskPeer } from './tasks.ts';

/**
 * The `swarm` list of each task (see SwarmList in @flotilla/wire): its unfinished children that have the seed among
 * their parents, in join order, cut at LIMITS.swarm — the same list for every child. A change (parents handed out,
 * a child finished or left) bumps the task's epoch; a child is sent the list again only when its epoch moved.
 */
export class SwarmLists {
  readonly #seedPeerId: string;
  readonly #epochs = new WeakMap<Task, number>();
  readonly #sent = new WeakMap<TaskPeer, number>();

  constructor(seedPeerId: string) {
    this.#seedPeerId = seedPeerId;
  }

  /** The task's seed children may have changed. */
  changed(task: Task): void {
    this.#epochs.set(task, (this.#epochs.get(task) ?? 0) + 1);
  }

  /** The current list, for a fresh assignment. */
  forAssignment(task: Task, peer: TaskPeer): SwarmList {
    this.#sent.set(peer, this.#epochs.get(task) ?? 0);
    return this.#list(task);
  }

  /** The list if it changed since this child was last told, else undefined. */
  forAck(task: Task, peer: TaskPeer): SwarmList | undefined {
    const epoch = this.#epochs.get(task) ?? 0;
    if (this.#sent.get(peer) === epoch) return undefined;
    this.#sent.set(peer, epoch);
    return this.#list(task);
  }

  #list(task: Task): SwarmList {
    const list: SwarmList = [];
    for (const peer of task.peers.values()) {
      if (list.length >= LIMITS.swarm) break;
      if (peer.finishedAt === undefined && peer.parents.includes(this.#seedPeerId)) list.push(peer.peerId);
    }
    return list;
  }
}
