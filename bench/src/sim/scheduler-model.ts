/*
 * One scheduler, driven on simulated time: the real host registry, task table, penalty box, swarm lists and parent
 * policy of scheduler/src, asked the same questions SchedService asks them on a `task` call (join, choose K
 * parents, set them as the child's load) and on a `report` call (record pieces, hand out new piece digests, new
 * parents when the child has fewer than K or one went bad). What is left out: the libp2p transport, meta signing,
 * the holdings of a restarted scheduler. Time spent inside these calls is measured as the scheduler's CPU time.
 */
import { HostRegistry } from '../../../scheduler/src/hosts.ts';
import { parentRequest, parentsWentBad, type SeedParent } from '../../../scheduler/src/parents/candidates.ts';
import { LoadAwarePolicy } from '../../../scheduler/src/parents/load-aware.ts';
import { PenaltyBox } from '../../../scheduler/src/parents/penalties.ts';
import type { ParentPolicy } from '../../../scheduler/src/parents/policy.ts';
import { SeedGroupPolicy } from '../../../scheduler/src/parents/seed-group.ts';
import { SwarmLists } from '../../../scheduler/src/swarm-lists.ts';
import type { Task, TaskMetaState, TaskPeer } from '../../../scheduler/src/tasks.ts';
import { TaskTable } from '../../../scheduler/src/tasks.ts';
import type { PolicyName } from './options.ts';
import type { Rng } from './rng.ts';

const POLICY: Record<PolicyName, (groupSize: number) => ParentPolicy> = {
  'load-aware': () => new LoadAwarePolicy(),
  'seed-group': (groupSize) => new SeedGroupPolicy({ groupSize }),
};

/** The scheduler's default --host-ttl: every simulated daemon calls far more often. */
const HOST_TTL_MS = 30_000;
/** A simulated daemon's listen address: the scheduler only checks that it has one. */
const ADDRESSES = ['/ip4/10.0.0.1/tcp/65001'];

/** What a daemon learns from a scheduler's answer. */
export interface SchedulerAnswer {
  /** Piece digests known so far: pieces [0, known) may be fetched. */
  known: number;
  /** Parents handed out, when they changed (peer ids). */
  parents?: string[];
  /** The seed's unfinished children, when they changed (first-fetcher ranks). */
  swarm?: string[];
}

export interface SchedulerModelOptions {
  /** The scheduler's own peer id: its seed's identity as a parent. */
  peerId: string;
  /** --parents. */
  k: number;
  /** --upload-slots of the seed. */
  seedUploadSlots: number;
  policy: PolicyName;
  /** --seed-group-size (seed-group policy). */
  seedGroupSize: number;
  /** The simulation's seeded generator: the scheduler's random choices (candidate samples) repeat with --rng-seed. */
  rng: Rng;
}

export class SchedulerModel {
  readonly peerId: string;
  readonly hosts = new HostRegistry(HOST_TTL_MS);
  readonly tasks = new TaskTable();
  readonly penalties = new PenaltyBox();
  readonly #swarms: SwarmLists;
  readonly #policy: ParentPolicy;
  readonly #o: SchedulerModelOptions;
  /** Pieces of each task on the seed's disk, set by the simulated seed. */
  readonly #seedReady = new Map<string, () => number>();
  /** Milliseconds of real CPU time spent inside scheduler code. */
  cpuMs = 0;
  calls = 0;

  constructor(options: SchedulerModelOptions) {
    this.#o = options;
    this.peerId = options.peerId;
    this.#swarms = new SwarmLists(options.peerId);
    this.#policy = POLICY[options.policy](options.seedGroupSize);
  }

  register(peerId: string, uploadSlots: number, now: number): void {
    this.#timed(() => this.hosts.register(peerId, { addresses: ADDRESSES, uploadSlots }, now));
  }

  /** The seed has started on a blob: its task exists from now on, its pieces readable through `piecesReady`. */
  seedStarted(meta: TaskMetaState, piecesReady: () => number, now: number): void {
    this.#seedReady.set(meta.digest, piecesReady);
    this.#timed(() => this.tasks.create(meta, { registry: 'origin.sim', repository: 'sim/image' }, now));
  }

  /** A daemon's `task` call: joined, K parents chosen and counted as its load on them. */
  task(digest: string, peerId: string, now: number): SchedulerAnswer {
    return this.#timed(() => {
      this.hosts.touch(peerId, now);
      const task = this.#task(digest);
      const peer = this.tasks.join(task, peerId, now);
      const parents = this.#choose(task, peer, now);
      this.tasks.setParents(peer, parents);
      this.#swarms.update(task, peer);
      const known = this.#ready(digest);
      peer.digestsSent = known;
      return { known, parents, swarm: this.#swarms.forAssignment(task, peer) };
    });
  }

  /** A daemon's `report` call: its finished pieces, the digests it has not been sent, new parents if due. */
  report(digest: string, peerId: string, finished: readonly number[], failed: number, now: number): SchedulerAnswer {
    return this.#timed(() => {
      this.hosts.touch(peerId, now);
      const task = this.#task(digest);
      const peer = this.tasks.join(task, peerId, now);
      const wasFinished = peer.finishedAt !== undefined;
      this.tasks.addPieces(task, peer, finished, now);
      if (!wasFinished && peer.finishedAt !== undefined) this.#swarms.update(task, peer);
      task.failedPieces += failed;
      const known = this.#ready(digest);
      peer.digestsSent = Math.max(peer.digestsSent, known);
      const answer: SchedulerAnswer = { known };
      if (peer.finishedAt === undefined) {
        const parents = this.#refreshed(task, peer, now);
        if (parents) answer.parents = parents;
        const swarm = this.#swarms.forAck(task, peer);
        if (swarm) answer.swarm = swarm;
      }
      return answer;
    });
  }

  /** New parents when a current one went bad, or when more than the child has became available; else undefined. */
  #refreshed(task: Task, peer: TaskPeer, now: number): string[] | undefined {
    const wentBad = parentsWentBad(task, peer, this.hosts, this.peerId, now);
    if (!wentBad && peer.parents.length >= this.#policy.parentsWanted(peer.peerId, task.meta.digest, this.#o.k)) return undefined;
    const chosen = this.#choose(task, peer, now);
    if (chosen.length === 0 || (!wentBad && chosen.length <= peer.parents.length)) return undefined;
    this.tasks.setParents(peer, chosen);
    this.#swarms.update(task, peer);
    return chosen;
  }

  #choose(task: Task, peer: TaskPeer, now: number): string[] {
    const seed: SeedParent = { peerId: this.peerId, piecesReady: this.#ready(task.meta.digest), uploadSlots: this.#o.seedUploadSlots, hasBytes: true };
    const random = () => this.#o.rng.next();
    const chosen = this.#policy.choose(parentRequest({ hosts: this.hosts, tasks: this.tasks, penalties: this.penalties, random }, task, seed, peer, this.#o.k, now));
    return chosen.map((c) => c.peerId);
  }

  #task(digest: string): Task {
    const task = this.tasks.get(digest);
    if (!task) throw new Error(`the simulated scheduler ${this.peerId} has no task ${digest}`);
    return task;
  }

  #ready(digest: string): number {
    return this.#seedReady.get(digest)?.() ?? 0;
  }

  #timed<T>(work: () => T): T {
    const started = performance.now();
    try {
      return work();
    } finally {
      this.cpuMs += performance.now() - started;
      this.calls++;
    }
  }
}
