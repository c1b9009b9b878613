/**
 * Piece geometry shared by every peer: a blob of `size` bytes is cut into pieces of `pieceLength` bytes (the last
 * one shorter). All peers must agree, so the scheduler chooses pieceLength once per blob and sends it in TaskMeta.
 */

export const MiB = 1024 * 1024;
export const MIN_PIECE_LENGTH = 1 * MiB;
export const MAX_PIECE_LENGTH = 16 * MiB;
/** The number of pieces choosePieceLength aims for. */
export const TARGET_PIECE_COUNT = 512;
/**
 * Upper bound on pieces per blob, so a full `have` set (indexes as JSON) fits a 64 KiB piece control frame and a
 * TaskMeta with every digest fits a 4 MiB sched frame. At 16 MiB pieces that is 128 GiB; larger blobs go to source.
 */
export const MAX_PIECE_COUNT = 8192;
export const MAX_BLOB_SIZE = MAX_PIECE_COUNT * MAX_PIECE_LENGTH;

/**
 * clamp(next power of two ≥ size/512, 1 MiB, 16 MiB).
 * Dragonfly uses size/500 clamped to 4–64 MiB and Kraken a fixed 4 MB. We go smaller: a peer forwards a piece
 * only once it has all of it, so each hop of a relay chain adds one piece-time of delay — 1 MiB is 3–50 ms at
 * 20–300 MB/s links, where 4 MiB would be 13–200 ms per hop. Aiming at ≤ 512 pieces keeps TaskMeta digests,
 * availability sets and progress reports small for big blobs.
 */
export function choosePieceLength(size: number): number {
  assertSize(size);
  let length = MIN_PIECE_LENGTH;
  while (length < MAX_PIECE_LENGTH && length * TARGET_PIECE_COUNT < size) length *= 2;
  return length;
}

/** ceil(size / pieceLength); 0 for an empty blob. */
export function pieceCountFor(size: number, pieceLength: number): number {
  assertSize(size);
  assertPieceLength(pieceLength);
  return Math.ceil(size / pieceLength);
}

/** Byte range [start, end) of piece `index`. */
export function pieceRange(index: number, size: number, pieceLength: number): { start: number; end: number } {
  const count = pieceCountFor(size, pieceLength);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) {
    throw new RangeError(`piece index ${index} is out of range for ${count} pieces`);
  }
  const start = index * pieceLength;
  return { start, end: Math.min(start + pieceLength, size) };
}

function assertSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`blob size ${size} is not a non-negative integer`);
}

function assertPieceLength(pieceLength: number): void {
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) {
    throw new RangeError(`piece length ${pieceLength} is not a positive integer`);
  }
}
