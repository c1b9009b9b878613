/** What the scheduler knows about one possible parent of a task, at the moment a child asks. */
export interface ParentCandidate {
  peerId: string;
  /** The scheduler's own seed for this task. */
  isSeed: boolean;
  /** Pieces of the task this peer holds (verified by its reports, or fetched by the seed). */
  piecesHeld: number;
  /** Concurrent piece uploads the host accepts (from its registration). */
  uploadSlots: number;
  /** Children this peer is currently parent of, across all tasks, that have not finished. */
  activeChildren: number;
  /** The peer's zone equals the requester's (both unset counts as equal). */
  sameZone: boolean;
  /** Recent failures and slowness reported against it, already decayed; 0 = clean record. */
  penalty: number;
}

export interface ParentRequest {
  /** The child asking; never its own parent. */
  requester: string;
  pieceCount: number;
  /** How many parents to return at most. */
  k: number;
  /** Every peer of the task (and the seed), requester and excluded peers included: the policy drops them. */
  candidates: readonly ParentCandidate[];
  /** Blocklisted for this task, asked to be excluded by the child, or expired. */
  exclude: ReadonlySet<string>;
}

/** Picks the parents a child downloads a task's pieces from, best first. */
export interface ParentPolicy {
  choose(request: ParentRequest): ParentCandidate[];
}
