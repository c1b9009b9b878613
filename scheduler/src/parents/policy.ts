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
  /** The task's digest. */
  task: string;
  pieceCount: number;
  /** How many parents to return at most (a policy may want more for some children, see parentsWanted). */
  k: number;
  /**
   * The seed and a bounded random sample of the task's peers (see CANDIDATE_SAMPLE), requester and excluded peers
   * possibly among them: the policy drops them.
   */
  candidates: readonly ParentCandidate[];
  /** Blocklisted for this task, asked to be excluded by the child, or expired. */
  exclude: ReadonlySet<string>;
  /** A peer of the task outside the sample, by id; undefined when it is not in the task or cannot be reached. */
  lookup(peerId: string): ParentCandidate | undefined;
}

/** Picks the parents a child downloads a task's pieces from, best first. */
export interface ParentPolicy {
  choose(request: ParentRequest): ParentCandidate[];
  /** How many parents this child should have: while it has fewer, its reports may bring more. K for most. */
  parentsWanted(requester: string, task: string, k: number): number;
}
