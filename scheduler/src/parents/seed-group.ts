/*
 * Seed-group parent choice (the default policy; `--parent-policy load-aware` selects the other).
 *
 * Same candidates and score as LoadAwarePolicy (see load-aware.ts), with these changes:
 *
 * - The seed feeds a seed group: the first --seed-group-size children of a task to ask (while fewer members are in
 *   it). The scheduler sends every child the list of the seed's children (`swarm`), and a daemon asks the seed only
 *   for the pieces it ranks first for on that list, so the members split the seed's pieces between them and each
 *   piece leaves the seed about once. LoadAwarePolicy hands the seed to every child of a burst (while fewer than K
 *   others hold a piece), and the seed's upload is spread over all of them (bench sim, 300 nodes, 1 GiB at
 *   100 MB/s: load-aware p99 2.55×, seed-group 1.33×). The seed is still the last resort of a child with no other
 *   candidate.
 * - The group is larger than K (16 by default): every piece enters the swarm through a member, and a member's
 *   upload carries its share of the seed's pieces to its mates and the first copies to everyone else. With 4
 *   members the swarm idled on the group (same run: p99 1.48×). A member gets the seed, K − 1 mates, and once
 *   other peers hold pieces K − 1 of them too (it wants 2K − 1 parents): with mates only, members finished last.
 *   More mates are worse: a member's upload then goes to its mates and pieces leave the group late (Kraken's test
 *   at 300 nodes: p99 1.34× with 3 mates, 1.95× with all 15).
 * - Candidates are ranked by load first: one more unfinished child outweighs any score difference. A parent's upload
 *   is shared by its children; ranked by score, an extra child moved a parent down by less than the random offset,
 *   children counts ranged from 2 to 10, and the children of crowded parents fell behind for good.
 * - Among equal loads, by score plus a fixed pseudo-random offset in [0, SPREAD) per (child, candidate) pair. In a
 *   burst nobody holds anything yet and every score ties: a fixed order hands each newcomer the previous few
 *   arrivals, a chain that pieces crawl down one hop at a time; a random order makes a shallow graph.
 * - While no daemon candidate holds a piece (the start of a burst) a child gets ⌈K/2⌉ parents: the scheduler tops a
 *   child with fewer than K up at one of its next reports, by then choosing by who holds what. K at once made a
 *   deeper graph (p99 1.55× → 2.05× when measured).
 */
import { freeSlots, scoreCandidate } from './load-aware.ts';
import type { ParentCandidate, ParentPolicy, ParentRequest } from './policy.ts';

/** Width of the pseudo-random offset added to scores: breaks ties and near-ties, not clear differences in progress. */
const SPREAD = 0.5;
/** Tasks whose seed group is remembered, newest last; groups of tasks long gone fall off the front. */
const MAX_REMEMBERED_TASKS = 1024;
export const DEFAULT_SEED_GROUP_SIZE = 16;

interface Ranked {
  candidate: ParentCandidate;
  rank: number;
}

export class SeedGroupPolicy implements ParentPolicy {
  readonly #groupSize: number;
  /** Per task: the children the seed was handed to, oldest first. */
  readonly #seedGroups = new Map<string, Set<string>>();

  constructor(options: { groupSize?: number } = {}) {
    this.#groupSize = options.groupSize ?? DEFAULT_SEED_GROUP_SIZE;
  }

  parentsWanted(requester: string, task: string, k: number): number {
    return this.#seedGroups.get(task)?.has(requester) ? 2 * k - 1 : k;
  }

  choose(request: ParentRequest): ParentCandidate[] {
    const { k, requester } = request;
    if (k <= 0) return [];
    const usable = (c: ParentCandidate) => c.peerId !== requester && !request.exclude.has(c.peerId);
    const eligible = request.candidates.filter(usable);
    const seed = eligible.find((c) => c.isSeed);
    const daemons = eligible.filter((c) => !c.isSeed && freeSlots(c) > 0);
    const mates = seed ? this.#seedGroup(request) : undefined;
    if (seed && mates) {
      const group = best(mates.filter((c) => usable(c) && freeSlots(c) > 0), k - 1, requester, request.pieceCount);
      const taken = new Set(group.map((c) => c.peerId));
      const others = best(daemons.filter((c) => c.piecesHeld > 0 && !taken.has(c.peerId)), k - 1, requester, request.pieceCount);
      return [seed, ...group, ...others];
    }
    const anyHeld = daemons.some((c) => c.piecesHeld > 0);
    const chosen = best(daemons, anyHeld ? k : Math.ceil(k / 2), requester, request.pieceCount);
    return chosen.length === 0 && seed ? [seed] : chosen;
  }

  /**
   * The other seed-group members still in the task when the requester is (or now becomes) a member; undefined when
   * the group is full without it.
   */
  #seedGroup(request: ParentRequest): ParentCandidate[] | undefined {
    let members = this.#seedGroups.get(request.task);
    if (!members) {
      this.#seedGroups.set(request.task, (members = new Set()));
      // A Map iterates in insertion order: the oldest task goes first.
      if (this.#seedGroups.size > MAX_REMEMBERED_TASKS) this.#seedGroups.delete(this.#seedGroups.keys().next().value!);
    }
    const present: ParentCandidate[] = [];
    for (const peerId of members) {
      const candidate = peerId === request.requester ? undefined : request.lookup(peerId);
      if (candidate) present.push(candidate);
      else if (peerId !== request.requester) members.delete(peerId);
    }
    if (!members.has(request.requester)) {
      if (members.size >= this.#groupSize) return undefined;
      members.add(request.requester);
    }
    return present;
  }
}

/** The `k` best candidates: fewest unfinished children, then by score plus the pair's offset, then by peer id. */
function best(candidates: readonly ParentCandidate[], k: number, requester: string, pieceCount: number): ParentCandidate[] {
  const top: Ranked[] = [];
  if (k <= 0) return [];
  const requesterHash = stringHash(requester);
  for (const candidate of candidates) {
    const entry = { candidate, rank: scoreCandidate(candidate, pieceCount) + SPREAD * pairOffset(requesterHash, candidate.peerId) };
    if (top.length === k && !before(entry, top[k - 1]!)) continue;
    let at = top.length;
    while (at > 0 && before(entry, top[at - 1]!)) at--;
    top.splice(at, 0, entry);
    if (top.length > k) top.pop();
  }
  return top.map((r) => r.candidate);
}

function before(a: Ranked, b: Ranked): boolean {
  const load = a.candidate.activeChildren - b.candidate.activeChildren;
  if (load !== 0) return load < 0;
  if (a.rank !== b.rank) return a.rank > b.rank;
  return a.candidate.peerId < b.candidate.peerId;
}

/** A fixed value in [0, 1) for a (requester, candidate) pair: the same pair always gets the same offset. */
function pairOffset(requesterHash: number, peerId: string): number {
  let h = Math.imul(requesterHash ^ stringHash(peerId), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/** FNV-1a, 32 bits. */
function stringHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
