import type { Logger } from '@flotilla/log';
import type { Parent, TaskAssignedResponse } from '@flotilla/wire';
import type { BlobFetchRequest } from '../blob/source.ts';
import type { ParentPool } from './parent-pool.ts';
import type { SchedulerLink } from './scheduler-client.ts';

/** Reschedules asked before the remaining pieces go to the origin. */
const MAX_RESCHEDULES = 3;
/** Without a scheduler, the DHT is asked for more of the swarm at most this often. */
const LOOK_AROUND_MS = 1_000;

export interface ParentSupplyOptions {
  scheduler: SchedulerLink;
  request: BlobFetchRequest;
  parents: ParentPool;
  /** Daemons that hold the blob or are fetching it, found in the DHT, outside `exclude`. */
  findParents?(exclude: readonly string[]): Promise<Parent[]>;
  /** A fresh assignment (reschedule, rejoin): its meta and parents. */
  absorb(assignment: TaskAssignedResponse): void;
  logger: Logger;
}

/**
 * Where one download gets parents beyond its assignment: the scheduler (reschedule when every parent is gone,
 * rejoin when the scheduler forgot the task) and, when no scheduler answers, the DHT.
 */
export class ParentSupply {
  readonly #o: ParentSupplyOptions;
  #reschedules = 0;
  #lookedAround = -Infinity;
  #foundAround = false;

  constructor(options: ParentSupplyOptions) {
    this.#o = options;
  }

  /** Every parent is gone: undefined once new ones were added, else why the rest must come from the origin. */
  async replenish(): Promise<string | undefined> {
    const { scheduler, request, parents } = this.#o;
    try {
      const answer = await scheduler.call({ type: 'reschedule', digest: request.digest.value, exclude: parents.dropped });
      if (answer.type !== 'task-assigned') return answer.type === 'error' ? answer.message : answer.reason;
      if (++this.#reschedules <= MAX_RESCHEDULES) this.#o.absorb(answer);
      return parents.size > 0 ? undefined : 'no usable parent after rescheduling';
    } catch (err) {
      if (++this.#reschedules <= MAX_RESCHEDULES && (await this.#fromDht())) return undefined;
      return (err as Error).message;
    }
  }

  /** The scheduler forgot the task (it restarted, or the task moved to another scheduler): join it there. */
  async rejoin(): Promise<void> {
    const { registry, repository, digest, authorization } = this.#o.request;
    const answer = await this.#o.scheduler.call({
      type: 'task',
      digest: digest.value,
      registry,
      repository,
      ...(authorization ? { authorization } : {}),
    });
    if (answer.type === 'task-assigned') this.#o.absorb(answer);
  }

  /** A DHT lookup for the rest of the swarm has completed (its members are parents now). */
  get lookedAround(): boolean {
    return this.#foundAround;
  }

  /** No seed: look for the rest of the swarm in the DHT, now (`soon` = at most once a second). */
  lookAround(now: number, soon = true): void {
    if (soon && now - this.#lookedAround < LOOK_AROUND_MS) return;
    this.#lookedAround = now;
    void this.#fromDht().finally(() => (this.#foundAround = true));
  }

  async #fromDht(): Promise<boolean> {
    const { findParents, parents } = this.#o;
    if (!findParents) return false;
    parents.add(await findParents(parents.dropped).catch(() => []));
    return parents.size > 0;
  }
}
