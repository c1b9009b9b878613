import { WireError } from './errors.ts';
import { isCompleteMeta, metaSignatureOf, type SignedTaskMeta } from './meta-signature.ts';
import { MAX_BLOB_SIZE, MAX_PIECE_COUNT, MAX_PIECE_LENGTH } from './pieces.ts';
import { MAX_SCHED_FRAME, taskMetaOf } from './sched-messages.ts';
import { arrayValue, decodeJson, digestValue, Fields, messageType, pieceIndexesValue, uintValue } from './validate.ts';

/**
 * Daemon ↔ daemon (and the scheduler's seed): `get` is one short stream per piece — a request frame, a response
 * frame, then `length` raw bytes; `watch` is one long-lived stream per (child, parent, blob) of `have` frames.
 */
export const PIECE_PROTOCOL = '/flotilla/piece/1.0.0';
/**
 * `get` requests one after another on one long-lived stream (added after 1.0.0): each is a request frame, a
 * response frame and, for `piece`, the raw bytes, with no stream set-up per piece. Either side ends the session by
 * closing its write side. Peers without it refuse the protocol; askers then fall back to PIECE_PROTOCOL.
 */
export const PIECE_SESSION_PROTOCOL = '/flotilla/piece-session/1.0.0';
/** Control frames only; piece bytes travel raw after the `piece` frame. */
export const MAX_PIECE_CONTROL_FRAME = 64 * 1024;
/** A `blob-meta` reply carries every piece digest, as a task assignment does. */
export const MAX_META_FRAME = MAX_SCHED_FRAME;

/**
 * `meta` (added after 1.0.0 shipped; peers without it reset the stream, which callers treat as "no meta") asks
 * for what the peer knows of a blob it holds: its size, and the scheduler-signed TaskMeta when it has one.
 */
export type PieceRequest =
  | { type: 'get'; digest: string; index: number }
  | { type: 'watch'; digest: string }
  | { type: 'meta'; digest: string };

/** The answer to `meta`: the blob's size (piece geometry follows from it), and the signed meta when known. */
export type BlobMetaResponse = { type: 'blob-meta'; size: number; signed?: SignedTaskMeta } | { type: 'missing' };

/**
 * `busy` may say when to come back (`retryAfterMs`, added after 1.0.0; peers without it ignore the field and the
 * asker then uses its own back-off): the parent's upload link is booked for about that long.
 */
export type PieceResponse = { type: 'piece'; index: number; length: number } | { type: 'busy'; retryAfterMs?: number } | { type: 'missing' };

/** The longest back-off a `busy` may ask for. */
export const MAX_RETRY_AFTER_MS = 60_000;

/**
 * Pieces the sender has: the first frame of a watch is the full set (a seed may spread it over several frames, see
 * MAX_HAVE_DIGESTS), later ones add to it.
 */
export interface HaveMessage {
  type: 'have';
  /** Strictly ascending piece indexes. */
  pieces: number[];
  /** The sender has every piece of the blob. */
  complete: boolean;
  /**
   * The sha256 of each piece in `pieces`, in the same order (added after 1.0.0: peers without it ignore the field).
   * Only a scheduler's seed sends them, and children take them only from the seed their scheduler named: that is
   * how piece digests reach children while the seed is still fetching, with no polling.
   */
  digests?: string[];
}

/** Pieces per `have` frame that carries digests: 256 × ~75 bytes stays well inside a control frame. */
export const MAX_HAVE_DIGESTS = 256;

const REQUEST_TYPES = ['get', 'watch', 'meta'] as const;
const RESPONSE_TYPES = ['piece', 'busy', 'missing'] as const;

/** The server checks `index` against its own TaskMeta; here it is only bounded by MAX_PIECE_COUNT. */
export function parsePieceRequest(bytes: Uint8Array): PieceRequest {
  const f = new Fields(decodeJson(bytes), 'request');
  const type = messageType(f, REQUEST_TYPES);
  switch (type) {
    case 'get':
      return { type, digest: f.digest('digest'), index: f.uint('index', MAX_PIECE_COUNT - 1) };
    case 'watch':
    case 'meta':
      return { type, digest: f.digest('digest') };
  }
}

/** A `meta` reply for `digest`; signed meta must describe that blob, with the announced size and every digest. */
export function parseBlobMetaResponse(bytes: Uint8Array, digest: string): BlobMetaResponse {
  const f = new Fields(decodeJson(bytes), 'response');
  const type = messageType(f, ['blob-meta', 'missing'] as const);
  if (type === 'missing') return { type };
  const size = f.uint('size', MAX_BLOB_SIZE);
  if (!f.has('signed')) return { type, size };
  const signed = f.object('signed');
  const meta = signed.required('meta', taskMetaOf);
  if (meta.digest !== digest || meta.size !== size || !isCompleteMeta(meta)) {
    throw new WireError(`${signed.at('meta')} is not the complete meta of ${digest} (${size} bytes)`);
  }
  return { type, size, signed: { meta, signature: signed.required('signature', metaSignatureOf) } };
}

export interface PieceResponseContext {
  /** The piece that was asked for: a `piece` reply must carry this index and exactly this length. */
  index: number;
  length: number;
}

export function parsePieceResponse(bytes: Uint8Array, expected?: PieceResponseContext): PieceResponse {
  const f = new Fields(decodeJson(bytes), 'response');
  const type = messageType(f, RESPONSE_TYPES);
  switch (type) {
    case 'piece': {
      const index = f.uint('index', MAX_PIECE_COUNT - 1);
      const length = f.uint('length', MAX_PIECE_LENGTH);
      if (expected !== undefined && (index !== expected.index || length !== expected.length)) {
        throw new WireError(`piece ${index} of ${length} bytes answers a request for piece ${expected.index} of ${expected.length} bytes`);
      }
      return { type, index, length };
    }
    case 'busy': {
      const retryAfterMs = f.optional('retryAfterMs', (v, p) => uintValue(v, p, MAX_RETRY_AFTER_MS));
      return retryAfterMs === undefined ? { type } : { type, retryAfterMs };
    }
    case 'missing':
      return { type };
  }
}

/** One frame of a watch stream, for a blob of `pieceCount` pieces. */
export function parseHave(bytes: Uint8Array, pieceCount: number): HaveMessage {
  const f = new Fields(decodeJson(bytes), 'have');
  messageType(f, ['have'] as const);
  const bound = Math.min(pieceCount, MAX_PIECE_COUNT);
  const pieces = f.required('pieces', (v, p) => pieceIndexesValue(v, p, bound));
  const complete = f.boolean('complete');
  const digests = f.optional('digests', (v, p) => arrayValue(v, p, MAX_HAVE_DIGESTS, digestValue));
  if (digests === undefined) return { type: 'have', pieces, complete };
  if (digests.length !== pieces.length) throw new WireError(`${f.at('digests')} must have one digest per piece (${pieces.length})`);
  return { type: 'have', pieces, complete, digests };
}
