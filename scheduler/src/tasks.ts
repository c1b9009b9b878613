import { Bitfield } from './bitfield.ts';

/** What a daemon needs to fetch a blob piece by piece (mirrors the wire's TaskMeta). */
export interface TaskMetaState {
  digest: string;
  size: number;
  pieceLength: number;
  pieceCount: number;
  /** sha256 per piece; null while the seed has not fetched that piece yet. Filled in by the seed. */
  pieceDigests: (string | null)[];
}

/** One daemon's part in one task. */
export interface TaskPeer {
  peerId: string;
  pieces: Bitfield;
  /** Parents handed out last; counted as this peer's load on them until it finishes. */
  parents: string[];
  /** Peers this child asked not to get again (reschedule). */
  excluded: Set<string>;
  /** How many piece digests it has been told (task meta, then report-acks): the next ack starts there. */
  digestsSent: number;
  /** It has been sent the signature over the complete meta. */
  signatureSent: boolean;
  joinedAt: number;
  finishedAt: number | undefined;
}

/** Scheduler-side state of one blob being distributed. */
export interface Task {
  meta: TaskMetaState;
  registry: string;
  repository: string;
  createdAt: number;
  peers: Map<string, TaskPeer>;
  /** The same peers in an array, in no particular order: a random sample of them costs O(sample), not O(peers). */
  peerList: TaskPeer[];
  /** Peers that served a corrupt piece of this blob: never a parent for it again. */
  blocklist: Set<string>;
  finishedPieces: number;
  failedPieces: number;
}

/**
 * Every task and the load each parent carries. `activeChildren(p)` counts the unfinished children that have p
 * among their current parents, over all tasks: the parent policy's estimate of p's busy upload slots.
 */
export class TaskTable {
  readonly #tasks = new Map<string, Task>();
  readonly #children = new Map<string, number>();
  /** The parents each unfinished child is counted against. */
  readonly #loads = new Map<TaskPeer, string[]>();

  create(meta: TaskMetaState, origin: { registry: string; repository: string }, now: number): Task {
    const task: Task = {
      meta,
      registry: origin.registry,
      repository: origin.repository,
      createdAt: now,
      peers: new Map(),
      peerList: [],
      blocklist: new Set(),
      finishedPieces: 0,
      failedPieces: 0,
    };
    this.#tasks.set(meta.digest, task);
    return task;
  }

  get(digest: string): Task | undefined {
    return this.#tasks.get(digest);
  }

  list(): Task[] {
    return [...this.#tasks.values()];
  }

  /** Forgets a task (its seed failed); its peers' load on their parents goes with it. */
  delete(digest: string): void {
    const task = this.#tasks.get(digest);
    if (!task) return;
    for (const peer of task.peers.values()) this.#release(peer);
    this.#tasks.delete(digest);
  }

  /** The peer's state in the task, created on its first request. */
  join(task: Task, peerId: string, now: number): TaskPeer {
    let peer = task.peers.get(peerId);
    if (!peer) {
      peer = {
        peerId,
        pieces: new Bitfield(task.meta.pieceCount),
        parents: [],
        excluded: new Set(),
        digestsSent: 0,
        signatureSent: false,
        joinedAt: now,
        finishedAt: undefined,
      };
      task.peers.set(peerId, peer);
      task.peerList.push(peer);
    }
    return peer;
  }

  /** Records pieces the peer now holds; returns how many were new. Finishing releases its parents' load. */
  addPieces(task: Task, peer: TaskPeer, indexes: readonly number[], now: number): number {
    let added = 0;
    for (const index of indexes) if (peer.pieces.set(index)) added++;
    task.finishedPieces += added;
    if (peer.pieces.complete && peer.finishedAt === undefined) {
      peer.finishedAt = now;
      this.#release(peer);
    }
    return added;
  }

  setParents(peer: TaskPeer, parents: string[]): void {
    this.#release(peer);
    peer.parents = parents;
    if (peer.finishedAt !== undefined) return;
    this.#loads.set(peer, parents);
    for (const parent of parents) this.#children.set(parent, (this.#children.get(parent) ?? 0) + 1);
  }

  activeChildren(peerId: string): number {
    return this.#children.get(peerId) ?? 0;
  }

  /** Removes the peer from every task (it left or its host expired); returns the digests it was part of. */
  removePeer(peerId: string): string[] {
    const digests: string[] = [];
    for (const task of this.#tasks.values()) {
      const peer = task.peers.get(peerId);
      if (!peer) continue;
      this.#release(peer);
      task.peers.delete(peerId);
      const at = task.peerList.indexOf(peer);
      task.peerList[at] = task.peerList.at(-1)!;
      task.peerList.pop();
      digests.push(task.meta.digest);
    }
    return digests;
  }

  /** Drops the peer's contribution to its parents' load (it finished, got new parents, or left). */
  #release(peer: TaskPeer): void {
    for (const parent of this.#loads.get(peer) ?? []) {
      const count = (this.#children.get(parent) ?? 0) - 1;
      if (count > 0) this.#children.set(parent, count);
      else this.#children.delete(parent);
    }
    this.#loads.delete(peer);
  }
}
