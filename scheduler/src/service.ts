import type { Logger } from '@flotilla/log';
import type {
  BackToSourceResponse,
  Parent,
  PieceFailure,
  ReportAckResponse,
  RequestContext,
  SchedRequest,
  SchedResponse,
  TaskAssignedResponse,
} from '@flotilla/wire';
import type { Holdings } from './holdings.ts';
import type { HostRegistration, HostRegistry } from './hosts.ts';
import { parentRequest, parentsWentBad } from './parents/candidates.ts';
import type { ParentPolicy } from './parents/policy.ts';
import { PENALTY, type PenaltyBox } from './parents/penalties.ts';
import type { Seed, Seeds } from './seed.ts';
import { SwarmLists } from './swarm-lists.ts';
import type { Task, TaskPeer, TaskTable } from './tasks.ts';

/** Upload slots assumed for a daemon that called before registering (it re-registers with its real figure). */
const DEFAULT_UPLOAD_SLOTS = 200;

export interface SchedServiceOptions {
  hosts: HostRegistry;
  tasks: TaskTable;
  seeds: Seeds;
  holdings: Holdings;
  policy: ParentPolicy;
  penalties: PenaltyBox;
  /** Parents per child (--parents). */
  k: number;
  /** The scheduler itself, as the seed parent. */
  self: { peerId: string; addresses(): string[]; uploadSlots: number };
  /** A caller's listen addresses as identify learnt them, to register a daemon that calls before it registers. */
  knownAddresses(peerId: string): Promise<string[]>;
  hostTtlMs: number;
  logger: Logger;
}

/** The scheduler's side of /flotilla/sched/1.0.0: hosts, tasks, piece reports and parent choice. */
export class SchedService {
  readonly #o: SchedServiceOptions;
  readonly #swarms: SwarmLists;

  constructor(options: SchedServiceOptions) {
    this.#o = options;
    this.#swarms = new SwarmLists(options.self.peerId);
  }

  readonly handle = async (request: SchedRequest, context: RequestContext): Promise<SchedResponse> => {
    const peerId = context.peer.toString();
    const now = Date.now();
    if (request.type === 'register') {
      this.#register(peerId, request, now);
      return { type: 'registered', ttlMs: this.#o.hostTtlMs };
    }
    if (request.type === 'leave') {
      this.#o.hosts.remove(peerId);
      this.#forget(peerId, 'left');
      return { type: 'ok' };
    }
    if (!this.#o.hosts.touch(peerId, now)) this.#register(peerId, { addresses: await this.#o.knownAddresses(peerId), uploadSlots: DEFAULT_UPLOAD_SLOTS }, now);
    switch (request.type) {
      case 'task':
        return this.#task(peerId, request, now);
      case 'report':
        return this.#report(peerId, request, now);
      case 'reschedule':
        return this.#reschedule(peerId, request, now);
      case 'holding':
        await this.#o.holdings.record(peerId, request.blobs, now);
        return { type: 'ok' };
    }
  };

  /** Drops a peer from every task (it left or its host expired). */
  forgetPeer(peerId: string, why: string): void {
    this.#forget(peerId, why);
  }

  async #task(peerId: string, request: Extract<SchedRequest, { type: 'task' }>, now: number): Promise<TaskAssignedResponse | BackToSourceResponse> {
    let outcome;
    try {
      outcome = await this.#o.seeds.ensure(request);
    } catch (err) {
      this.#o.logger.error({ digest: request.digest, err: String(err) }, 'seeding could not start');
      return { type: 'back-to-source', reason: `seeding could not start: ${(err as Error).message}` };
    }
    const fields = { digest: request.digest, peer: peerId, registry: request.registry, repository: request.repository };
    if (!outcome.ok) {
      this.#o.logger.info({ ...fields, reason: outcome.reason }, 'task sent back to source');
      return { type: 'back-to-source', reason: outcome.reason };
    }
    const task = this.#o.tasks.get(request.digest) ?? this.#o.tasks.create(outcome.seed.meta, request, now);
    const peer = this.#o.tasks.join(task, peerId, now);
    const answer = this.#assign(task, outcome.seed, peer);
    if (answer.type === 'task-assigned') {
      this.#o.logger.info({ ...fields, bytes: task.meta.size, parents: answer.parents.map((p) => p.peerId) }, 'task assigned');
    }
    return answer;
  }

  #report(peerId: string, request: Extract<SchedRequest, { type: 'report' }>, now: number): ReportAckResponse | SchedResponse {
    const task = this.#o.tasks.get(request.digest);
    const seed = this.#o.seeds.get(request.digest);
    if (!task || !seed) return { type: 'error', code: 'unknown-task', message: `no task for ${request.digest}; ask for it again` };
    const peer = this.#o.tasks.join(task, peerId, now);
    const wasFinished = peer.finishedAt !== undefined;
    this.#o.tasks.addPieces(task, peer, request.finished, now);
    for (const failure of request.failed) this.#pieceFailed(task, peerId, failure, now);
    if (!wasFinished && peer.finishedAt !== undefined) {
      this.#swarms.update(task, peer);
      this.#o.logger.info({ digest: task.meta.digest, peer: peerId, bytes: task.meta.size, duration_ms: now - peer.joinedAt }, 'peer finished task');
    }
    const ack: ReportAckResponse = { type: 'report-ack' };
    if (seed.piecesReady > peer.digestsSent) {
      ack.pieceDigests = { from: peer.digestsSent, digests: task.meta.pieceDigests.slice(peer.digestsSent, seed.piecesReady) as string[] };
      peer.digestsSent = seed.piecesReady;
    }
    if (seed.signature && !peer.signatureSent) {
      ack.signature = seed.signature;
      peer.signatureSent = true;
    }
    if (peer.finishedAt === undefined) {
      const parents = this.#refreshedParents(task, seed, peer, now);
      if (parents) ack.parents = parents;
      const swarm = this.#swarms.forAck(task, peer);
      if (swarm) ack.swarm = swarm;
    }
    return ack;
  }

  #reschedule(peerId: string, request: Extract<SchedRequest, { type: 'reschedule' }>, now: number): TaskAssignedResponse | BackToSourceResponse {
    const task = this.#o.tasks.get(request.digest);
    const seed = this.#o.seeds.get(request.digest);
    if (!task || !seed) return { type: 'back-to-source', reason: 'no such task' };
    const peer = this.#o.tasks.join(task, peerId, now);
    for (const excluded of request.exclude) {
      peer.excluded.add(excluded);
      this.#o.penalties.add(excluded, PENALTY.slow, now);
    }
    this.#o.logger.info({ digest: task.meta.digest, peer: peerId, exclude: request.exclude }, 'peer rescheduled');
    return this.#assign(task, seed, peer);
  }

  /** Fresh parents and a snapshot of the meta with every digest known so far; back to source when nobody is left. */
  #assign(task: Task, seed: Seed, peer: TaskPeer): TaskAssignedResponse | BackToSourceResponse {
    const chosen = this.#choose(task, seed, peer, Date.now());
    if (chosen.length === 0) return { type: 'back-to-source', reason: 'no parent left for this blob' };
    this.#o.tasks.setParents(peer, chosen.map((p) => p.peerId));
    this.#swarms.update(task, peer);
    peer.digestsSent = seed.piecesReady;
    const meta = { ...task.meta, pieceDigests: task.meta.pieceDigests.slice() };
    const swarm = this.#swarms.forAssignment(task, peer);
    if (!seed.signature) return { type: 'task-assigned', meta, parents: chosen, swarm };
    peer.signatureSent = true;
    return { type: 'task-assigned', meta, parents: chosen, signature: seed.signature, swarm };
  }

  /**
   * New parents for a report-ack when the current ones went bad (blocklisted, excluded, host gone) or when the
   * child has fewer than the policy wants for it (K; more for some) and more can be had now; undefined when nothing
   * changes.
   */
  #refreshedParents(task: Task, seed: Seed, peer: TaskPeer, now: number): Parent[] | undefined {
    const wentBad = parentsWentBad(task, peer, this.#o.hosts, this.#o.self.peerId, now);
    if (!wentBad && peer.parents.length >= this.#o.policy.parentsWanted(peer.peerId, task.meta.digest, this.#o.k)) return undefined;
    const chosen = this.#choose(task, seed, peer, now);
    // Without a bad parent, only more parents are worth the child's reconnecting.
    if (chosen.length === 0 || (!wentBad && chosen.length <= peer.parents.length)) return undefined;
    this.#o.tasks.setParents(peer, chosen.map((p) => p.peerId));
    this.#swarms.update(task, peer);
    return chosen;
  }

  #choose(task: Task, seed: Seed, child: TaskPeer, now: number): Parent[] {
    const { hosts, tasks, penalties, self } = this.#o;
    const seedParent = { peerId: self.peerId, piecesReady: seed.piecesReady, uploadSlots: self.uploadSlots, hasBytes: seed.hasBytes };
    const request = parentRequest({ hosts, tasks, penalties, random: Math.random }, task, seedParent, child, this.#o.k, now);
    const chosen = this.#o.policy.choose(request);
    return chosen.map((c) => ({ peerId: c.peerId, addresses: c.isSeed ? self.addresses() : (hosts.get(c.peerId)?.addresses ?? []) }));
  }

  #pieceFailed(task: Task, reporter: string, failure: PieceFailure, now: number): void {
    task.failedPieces++;
    const fields = { digest: task.meta.digest, peer: failure.peer, reporter, index: failure.index, reason: failure.reason };
    if (failure.reason === 'corrupt') {
      this.#o.penalties.add(failure.peer, PENALTY.failure, now);
      if (!task.blocklist.has(failure.peer)) {
        task.blocklist.add(failure.peer);
        this.#o.logger.warn(fields, 'peer blocklisted');
      }
      return;
    }
    // `busy` is flow control (daemons no longer report it; older ones do): no penalty, no log line at info.
    if (failure.reason === 'busy') return this.#o.logger.debug(fields, 'piece failed');
    this.#o.penalties.add(failure.peer, failure.reason === 'slow' ? PENALTY.slow : PENALTY.failure, now);
    this.#o.logger.info(fields, 'piece failed');
  }

  #register(peerId: string, registration: HostRegistration, now: number): void {
    const known = this.#o.hosts.get(peerId) !== undefined;
    const host = this.#o.hosts.register(peerId, registration, now);
    if (!known) this.#o.logger.info({ peer: peerId, addresses: host.addresses, zone: host.zone, uploadSlots: host.uploadSlots }, 'host registered');
  }

  #forget(peerId: string, why: string): void {
    const digests = this.#o.tasks.removePeer(peerId);
    for (const digest of digests) {
      const task = this.#o.tasks.get(digest);
      if (task) this.#swarms.remove(task, peerId);
    }
    this.#o.penalties.forget(peerId);
    this.#o.logger.info({ peer: peerId, tasks: digests, why }, 'peer removed');
  }
}
