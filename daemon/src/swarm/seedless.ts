import type { ParentPool } from './parent-pool.ts';
import type { ParentSupply } from './parent-supply.ts';
import type { SchedulerLink } from './scheduler-client.ts';

/** Of the requests in flight, how many may go to the origin at once for pieces this daemon fetches for the swarm. */
const ORIGIN_SHARE = 0.5;

export interface SeedlessSwarmOptions {
  parents: ParentPool;
  supply: ParentSupply;
  scheduler: SchedulerLink;
  piecesInFlight: number;
}

/**
 * One download after its seed went away (its scheduler died, or the seed failed us), until a scheduler gives a new
 * one: the daemons of the swarm carry on among themselves. They find each other in the DHT; each piece nobody holds
 * is fetched from the origin by the daemon that ranks first for it among those it knows (the rank the seed share
 * uses) — and only once it knows the rest of the swarm, so that they agree and a piece leaves the origin about once.
 */
export class SeedlessSwarm {
  readonly #o: SeedlessSwarmOptions;
  #active = false;

  constructor(options: SeedlessSwarmOptions) {
    this.#o = options;
  }

  get active(): boolean {
    return this.#active;
  }

  /** The seed was dropped; true when this begins seedless mode (the swarm is looked up at once). */
  begin(now: number): boolean {
    if (this.#active) return false;
    this.#active = true;
    this.#o.supply.lookAround(now, false);
    return true;
  }

  /** Each round: a seed again (a scheduler took the task over) ends it; while no scheduler answers, the DHT is asked now and then. */
  tick(now: number): void {
    if (this.#o.parents.seed !== undefined) this.#active = false;
    else if (this.#o.scheduler.isDown) this.#o.supply.lookAround(now);
  }

  /** May a piece no parent can serve come from the origin? Seedless: only once the swarm is known, and if we rank first. */
  mayFetch(index: number): boolean {
    if (!this.#active) return true;
    const { supply, parents } = this.#o;
    return supply.lookedAround && parents.allHeard && parents.firstFetcher(index);
  }

  /**
   * Pieces to fetch from the origin now for the swarm, in reader order from `frontier`: missing, held by no parent,
   * ours to fetch; on up to half the requests, of which `fromOrigin` already go there.
   */
  originPicks(frontier: number, pieceCount: number, missing: (index: number) => boolean, fromOrigin: number, free: number): number[] {
    const share = Math.max(1, Math.floor(this.#o.piecesInFlight * ORIGIN_SHARE));
    const picks: number[] = [];
    for (let i = frontier; i < pieceCount && picks.length < Math.min(free, share - fromOrigin); i++) {
      if (missing(i) && this.#o.parents.daemonsHolding(i) === 0 && this.mayFetch(i)) picks.push(i);
    }
    return picks;
  }
}
