/*
 * Seed-group parent choice: an alternative to LoadAwarePolicy for large bursts, measured with `flotilla bench sim`.
 *
 * Same candidates and score as LoadAwarePolicy (see load-aware.ts), with three changes:
 *
 * - The seed feeds K children, the seed group: the first K to ask while fewer than K group members are in the task.
 *   A member gets the seed and the other members as parents. A daemon asks the seed only for the pieces it ranks
 *   first for among itself and its daemon parents, so members that see each other split the seed's pieces between
 *   them and each piece leaves the seed about once. LoadAwarePolicy hands the seed to every child of a burst (while
 *   fewer than K others hold a piece), and each of them ranks first for about 1/K of the pieces among its own few
 *   parents: the seed sends about N/K copies of the blob (bench sim: 11·S for 200 nodes). The seed is still the last
 *   resort of a child with no other candidate.
 * - Candidates are ranked by score plus a fixed pseudo-random offset in [0, SPREAD) per (child, candidate) pair. In a
 *   burst nobody holds anything yet and every score ties: a fixed order hands each newcomer the previous few
 *   arrivals, a chain about N/K deep that pieces crawl down one hop at a time; a random order makes a shallow graph.
 * - While no daemon candidate holds a piece (the start of a burst) a child gets ⌈K/2⌉ parents: the scheduler tops a
 *   child with fewer than K up at one of its next reports, by then choosing by who holds what.
 *
 * Not the default yet: children outside the group reach the seed's pieces only through other daemons, and the
 * committed daemon fetches its reader's next piece from the origin when no parent could serve it for --piece-timeout.
 * On slow links (bench sim: 10 MB/s with 1 MiB pieces) pieces take longer than that to come down the swarm and the
 * origin is flooded, where LoadAwarePolicy's seed, a parent of every child, serves those pieces after a short wait.
 * A daemon that waits while its parents still gain pieces (`bench sim --origin-fallback stalled`) removes that.
 */
import { freeSlots, scoreCandidate } from './load-aware.ts';
import type { ParentCandidate, ParentPolicy, ParentRequest } from './policy.ts';

/** Width of the pseudo-random offset added to scores: breaks ties and near-ties, not clear differences in load or progress. */
const SPREAD = 0.5;
/** Seed-group members remembered per seed, newest last; members of tasks long gone fall off the front. */
const MAX_REMEMBERED_MEMBERS = 4096;

interface Ranked {
  candidate: ParentCandidate;
  rank: number;
}

export class SeedGroupPolicy implements ParentPolicy {
  /** Per seed: the children it was handed to, oldest first. */
  readonly #seedGroups = new Map<string, Set<string>>();

  choose(request: ParentRequest): ParentCandidate[] {
    const { k, requester } = request;
    if (k <= 0) return [];
    const eligible = request.candidates.filter((c) => c.peerId !== requester && !request.exclude.has(c.peerId));
    const seed = eligible.find((c) => c.isSeed);
    const daemons = eligible.filter((c) => !c.isSeed && freeSlots(c) > 0);
    const mates = seed ? this.#seedGroup(seed.peerId, request) : undefined;
    if (seed && mates) {
      const others = best(daemons.filter((c) => !mates.has(c.peerId)), k, requester, request.pieceCount);
      const group = best(daemons.filter((c) => mates.has(c.peerId)), k, requester, request.pieceCount);
      return [seed, ...group, ...others].slice(0, k);
    }
    const anyHeld = daemons.some((c) => c.piecesHeld > 0);
    const chosen = best(daemons, anyHeld ? k : Math.ceil(k / 2), requester, request.pieceCount);
    return chosen.length === 0 && seed ? [seed] : chosen;
  }

  /**
   * The other seed-group members present in the task when the requester is (or now becomes) a member; undefined
   * when the group is full without it.
   */
  #seedGroup(seed: string, request: ParentRequest): Set<string> | undefined {
    let members = this.#seedGroups.get(seed);
    if (!members) this.#seedGroups.set(seed, (members = new Set()));
    const present = new Set<string>();
    for (const c of request.candidates) if (members.has(c.peerId)) present.add(c.peerId);
    if (!present.has(request.requester)) {
      if (present.size >= request.k) return undefined;
      members.add(request.requester);
      // A Set iterates in insertion order: the oldest member goes first.
      if (members.size > MAX_REMEMBERED_MEMBERS) members.delete(members.values().next().value!);
    }
    present.delete(request.requester);
    return present;
  }
}

/** The `k` best candidates by rank (score plus the pair's offset), ties to the less loaded, then by peer id. */
function best(candidates: readonly ParentCandidate[], k: number, requester: string, pieceCount: number): ParentCandidate[] {
  const top: Ranked[] = [];
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
  if (a.rank !== b.rank) return a.rank > b.rank;
  const load = a.candidate.activeChildren - b.candidate.activeChildren;
  return load !== 0 ? load < 0 : a.candidate.peerId < b.candidate.peerId;
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
