import { LIMITS, type SwarmList } from '@flotilla/wire';
import type { Task, TaskPeer } from './tasks.ts';

interface TaskSwarm {
  /** Unfinished children with the seed among their parents, in the order they got it. */
  members: Set<string>;
  epoch: number;
  /** The list of `epoch`, built once and handed to every child. */
  list: SwarmList | undefined;
}

/**
 * The `swarm` list of each task (see SwarmList in @flotilla/wire): its unfinished children that have the seed among
 * their parents, cut at LIMITS.swarm — the same list for every child. It is kept as children change (`update`), not
 * rebuilt from the task's peers: a burst of N children would otherwise cost N² steps. A change bumps the task's
 * epoch; a child is sent the list again only when its epoch moved.
 */
export class SwarmLists {
  readonly #seedPeerId: string;
  readonly #swarms = new WeakMap<Task, TaskSwarm>();
  readonly #sent = new WeakMap<TaskPeer, number>();

  constructor(seedPeerId: string) {
    this.#seedPeerId = seedPeerId;
  }

  /** The child's parents changed or it finished: it joins or leaves the list. */
  update(task: Task, peer: TaskPeer): void {
    this.#set(task, peer.peerId, peer.finishedAt === undefined && peer.parents.includes(this.#seedPeerId));
  }

  /** The peer left the task. */
  remove(task: Task, peerId: string): void {
    this.#set(task, peerId, false);
  }

  /** The current list, for a fresh assignment. */
  forAssignment(task: Task, peer: TaskPeer): SwarmList {
    const swarm = this.#swarm(task);
    this.#sent.set(peer, swarm.epoch);
    return this.#list(swarm);
  }

  /** The list if it changed since this child was last told, else undefined. */
  forAck(task: Task, peer: TaskPeer): SwarmList | undefined {
    const swarm = this.#swarm(task);
    if (this.#sent.get(peer) === swarm.epoch) return undefined;
    this.#sent.set(peer, swarm.epoch);
    return this.#list(swarm);
  }

  #set(task: Task, peerId: string, member: boolean): void {
    const swarm = this.#swarm(task);
    if (member === swarm.members.has(peerId)) return;
    if (member) swarm.members.add(peerId);
    else swarm.members.delete(peerId);
    swarm.epoch++;
    swarm.list = undefined;
  }

  #swarm(task: Task): TaskSwarm {
    let swarm = this.#swarms.get(task);
    if (!swarm) this.#swarms.set(task, (swarm = { members: new Set(), epoch: 0, list: undefined }));
    return swarm;
  }

  #list(swarm: TaskSwarm): SwarmList {
    if (!swarm.list) {
      swarm.list = [];
      for (const peerId of swarm.members) {
        if (swarm.list.length >= LIMITS.swarm) break;
        swarm.list.push(peerId);
      }
    }
    return swarm.list;
  }
}
