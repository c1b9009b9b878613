import { WireError } from './errors.ts';
import { isCompleteMeta, metaSignatureOf, type SignedTaskMeta } from './meta-signature.ts';
import { MAX_BLOB_SIZE, MAX_PIECE_COUNT, MAX_PIECE_LENGTH } from './pieces.ts';
import { MAX_SCHED_FRAME, taskMetaOf } from './sched-messages.ts';
import { decodeJson, Fields, messageType, pieceIndexesValue } from './validate.ts';

/**
 * Daemon ↔ daemon (and the scheduler's seed): `get` is one short stream per piece — a request frame, a response
 * frame, then `length` raw bytes; `watch` is one long-lived stream per (child, parent, blob) of `have` frames.
 */
export const PIECE_PROTOCOL = '/flotilla/piece/1.0.0';
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

export type PieceResponse = { type: 'piece'; index: number; length: number } | { type: 'busy' } | { type: 'missing' };

/** Pieces the sender has: the first frame of a watch is the full set, later ones add to it. */
export interface HaveMessage {
  type: 'have';
  /** Strictly ascending piece indexes. */
  pieces: number[];
  /** The sender has every piece of the blob. */
  complete: boolean;
}

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
    case 'busy':
    case 'missing':
      return { type };
  }
}

/** One frame of a watch stream, for a blob of `pieceCount` pieces. */
export function parseHave(bytes: Uint8Array, pieceCount: number): HaveMessage {
  const f = new Fields(decodeJson(bytes), 'have');
  messageType(f, ['have'] as const);
  const bound = Math.min(pieceCount, MAX_PIECE_COUNT);
  return { type: 'have', pieces: f.required('pieces', (v, p) => pieceIndexesValue(v, p, bound)), complete: f.boolean('complete') };
}
