/** Metadata of one committed blob (the LevelDB value under its digest). */
export interface BlobRecord {
  /** Canonical `algorithm:hex`. */
  digest: string;
  size: number;
  mediaType?: string;
  /** Where it came from: 'origin' | 'peer' | ... (free text). */
  source: string;
  /** Upstream registry host it was first fetched from. */
  registry?: string;
  repository?: string;
  /** ms epoch. */
  createdAt: number;
  /** ms epoch; updated by ContentStore.touch (throttled). */
  lastAccess: number;
}

/** A tag (or other mutable reference) resolved to a manifest digest, cached by the daemon. */
export interface TagResolution {
  digest: string;
  mediaType: string;
  size: number;
  resolvedAt: number;
}

/** Caller-supplied part of a BlobRecord, given at commit. */
export interface CommitMeta {
  mediaType?: string;
  source: string;
  registry?: string;
  repository?: string;
}
