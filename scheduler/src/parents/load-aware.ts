/*
 * Load-aware parent choice (`--parent-policy load-aware`; the default is seed-group, see seed-group.ts).
 *
 * Candidates: a random sample of the task's peers plus the scheduler's seed, minus the requester and the excluded peers
 * (blocklisted for this task after a corrupt piece, named by the child in `reschedule`, or on an expired host).
 * Peers that hold no piece yet stay eligible: they are downloading too, and the child learns of their pieces
 * through the watch stream as they land — that is how daemons come to serve each other instead of the seed.
 *
 * Each candidate is scored in [0, 1]:
 *
 *   score = 0.35·load + 0.35·progress + 0.10·zone + 0.20·health
 *
 *   load     = (free / slots) / (1 + children)   free = max(0, slots − 2·children)
 *              `children` are unfinished children currently assigned to the peer, across tasks; each is assumed to
 *              keep 2 of the peer's upload slots busy (a daemon has 8 pieces in flight spread over K = 4 parents).
 *              The 1/(1 + children) factor spreads a burst of requests even when every peer has hundreds of
 *              slots: each assignment makes the next child prefer someone else. A peer with no free slot is
 *              skipped (the seed excepted, see below).
 *   progress = piecesHeld / pieceCount            1 for the seed once it has everything and for finished peers.
 *   zone     = 1 when the peer is in the requester's zone, else 0   (traffic stays inside a rack or AZ).
 *   health   = 1 / (1 + penalty)                  penalty: failures (+1) and slow pieces (+0.5) reported against
 *              the peer, halved every 30 s (see PenaltyBox), so a peer recovers once it behaves.
 *
 * Dragonfly weighs load 0.6, IDC 0.2, location 0.1, host type 0.1 and drops slow peers outright; here progress
 * carries weight because pieces come from peers that have them, and health degrades softly instead of a hard cut,
 * since the blocklist already removes peers that served bad bytes.
 *
 * The K best are returned, ties going to the less loaded peer. The seed is always among them while fewer than K
 * other candidates hold a piece: early in a task it is the only source that surely has (or will have) every piece.
 */
import type { ParentCandidate, ParentPolicy, ParentRequest } from './policy.ts';

const WEIGHTS = { load: 0.35, progress: 0.35, zone: 0.1, health: 0.2 } as const;
/** Upload slots one child is expected to occupy at a parent. */
export const SLOTS_PER_CHILD = 2;

export function freeSlots(candidate: ParentCandidate): number {
  return Math.max(0, candidate.uploadSlots - SLOTS_PER_CHILD * candidate.activeChildren);
}

export function scoreCandidate(candidate: ParentCandidate, pieceCount: number): number {
  const slots = candidate.uploadSlots;
  const load = slots > 0 ? freeSlots(candidate) / slots / (1 + candidate.activeChildren) : 0;
  const progress = pieceCount > 0 ? Math.min(1, candidate.piecesHeld / pieceCount) : 1;
  const zone = candidate.sameZone ? 1 : 0;
  const health = 1 / (1 + Math.max(0, candidate.penalty));
  return WEIGHTS.load * load + WEIGHTS.progress * progress + WEIGHTS.zone * zone + WEIGHTS.health * health;
}

export class LoadAwarePolicy implements ParentPolicy {
  parentsWanted(_requester: string, _task: string, k: number): number {
    return k;
  }

  choose(request: ParentRequest): ParentCandidate[] {
    const { k } = request;
    if (k <= 0) return [];
    const eligible = request.candidates.filter((c) => c.peerId !== request.requester && !request.exclude.has(c.peerId));
    const seed = eligible.find((c) => c.isSeed);
    const ranked = eligible
      .filter((c) => !c.isSeed && freeSlots(c) > 0)
      .map((candidate) => ({ candidate, score: scoreCandidate(candidate, request.pieceCount) }));
    if (seed) ranked.push({ candidate: seed, score: scoreCandidate(seed, request.pieceCount) });
    ranked.sort(
      (a, b) =>
        b.score - a.score ||
        a.candidate.activeChildren - b.candidate.activeChildren ||
        a.candidate.peerId.localeCompare(b.candidate.peerId),
    );
    const chosen = ranked.slice(0, k).map((r) => r.candidate);
    const othersHolding = ranked.filter((r) => !r.candidate.isSeed && r.candidate.piecesHeld > 0).length;
    if (seed && othersHolding < k && !chosen.includes(seed)) chosen.splice(k - 1, 1, seed);
    return chosen;
  }
}
