/*
 * Per-daemon pseudo-random ranks of pieces: the same (peer, piece) always gets the same rank, on every daemon. Used
 * where daemons must agree without talking (who takes a fresh piece from the seed first) and where they must
 * differ (which of equally rare pieces each asks for first).
 */

/** FNV-1a, 32 bits: a peer id's hash, the seed of its ranks. */
export function stringHash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A well-mixed 32-bit rank of (peer, piece) (murmur3's finalizer). */
export function pieceRank(peerHash: number, index: number): number {
  let h = Math.imul(peerHash ^ Math.imul(index + 1, 0x9e3779b1), 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
