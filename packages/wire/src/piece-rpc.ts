import type { DialTarget } from '@libp2p/interface';
import { WireError } from './errors.ts';
import {
  type BlobMetaResponse,
  type HaveMessage,
  MAX_META_FRAME,
  MAX_PIECE_CONTROL_FRAME,
  PIECE_PROTOCOL,
  parseBlobMetaResponse,
  parseHave,
  parsePieceRequest,
  parsePieceResponse,
  type PieceResponse,
} from './piece-messages.ts';
import {
  type CallOptions,
  type Dialer,
  isProtocolViolation,
  type Registrar,
  type RequestContext,
  RpcStream,
  type ServeOptions,
  serveProtocol,
} from './rpc.ts';
import { type PieceGetReply, sendGetReply } from './piece-reply.ts';
import { servePieceSessions } from './piece-session-server.ts';
import { encodeJson } from './validate.ts';

/** Concurrent piece gets plus one watch per blob per child, all on one connection. */
export const PIECE_MAX_STREAMS = 1024;

export interface PieceGetOptions extends CallOptions {
  /** Receives the piece's bytes as they arrive (not joined); awaited before the next chunk is read. */
  onChunk: (chunk: Uint8Array) => void | Promise<void>;
  /** The piece's length from pieceRange; a reply with another length is a protocol violation. */
  expectedLength?: number;
}

/**
 * Fetches one piece on its own stream. On `piece`, every byte has been passed to onChunk when this resolves;
 * `busy` and `missing` carry no body. The caller verifies the piece digest.
 */
export async function pieceGet(
  node: Dialer,
  peer: DialTarget,
  piece: { digest: string; index: number },
  options: PieceGetOptions,
): Promise<PieceResponse> {
  const payload = encodeJson({ type: 'get', digest: piece.digest, index: piece.index }, MAX_PIECE_CONTROL_FRAME);
  const rpc = await RpcStream.open(node, peer, PIECE_PROTOCOL, PIECE_MAX_STREAMS, options);
  try {
    await rpc.send(payload, true);
    const expected = options.expectedLength === undefined ? undefined : { index: piece.index, length: options.expectedLength };
    const response = parsePieceResponse(await rpc.receive(MAX_PIECE_CONTROL_FRAME), expected);
    if (response.type === 'piece') {
      if (response.index !== piece.index) throw new WireError(`got piece ${response.index} for a request of piece ${piece.index}`);
      await rpc.reader.readBody(response.length, options.onChunk);
    }
    await rpc.expectEnd();
    rpc.done();
    return response;
  } catch (err) {
    throw rpc.fail(err);
  }
}

/** Asks a peer what it knows of a blob (size, signed meta). A peer that predates `meta` resets the stream: that throws. */
export async function pieceMeta(node: Dialer, peer: DialTarget, digest: string, options: CallOptions = {}): Promise<BlobMetaResponse> {
  const payload = encodeJson({ type: 'meta', digest }, MAX_PIECE_CONTROL_FRAME);
  const rpc = await RpcStream.open(node, peer, PIECE_PROTOCOL, PIECE_MAX_STREAMS, options);
  try {
    await rpc.send(payload, true);
    const response = parseBlobMetaResponse(await rpc.receive(MAX_META_FRAME), digest);
    await rpc.expectEnd();
    rpc.done();
    return response;
  } catch (err) {
    throw rpc.fail(err);
  }
}

/**
 * Watches a parent's pieces of one blob: yields `have` frames (the first is the full set, later ones add to it)
 * until the parent ends the stream. Breaking out of the loop or aborting the signal resets the stream.
 */
export async function* pieceWatch(
  node: Dialer,
  peer: DialTarget,
  blob: { digest: string; pieceCount: number },
  options: CallOptions = {},
): AsyncGenerator<HaveMessage, void, undefined> {
  const payload = encodeJson({ type: 'watch', digest: blob.digest }, MAX_PIECE_CONTROL_FRAME);
  const rpc = await RpcStream.open(node, peer, PIECE_PROTOCOL, PIECE_MAX_STREAMS, options);
  let ended = false;
  try {
    // Our write side stays open: closing it is how we tell the parent to stop.
    await rpc.send(payload, false);
    for (let frame = await rpc.reader.readFrame(MAX_PIECE_CONTROL_FRAME); frame !== undefined; frame = await rpc.reader.readFrame(MAX_PIECE_CONTROL_FRAME)) {
      yield parseHave(frame, blob.pieceCount);
    }
    ended = true;
    rpc.done();
    await rpc.stream.close();
  } catch (err) {
    throw rpc.fail(err);
  } finally {
    if (!ended && rpc.stream.status === 'open') rpc.fail(new Error('watch cancelled'));
  }
}

/** One `have` frame as a watch handler yields it (digests: the seed's, at most MAX_HAVE_DIGESTS). */
export type HaveUpdate = Omit<HaveMessage, 'type'>;

export interface PieceHandlers {
  get(request: { digest: string; index: number }, context: RequestContext): Promise<PieceGetReply>;
  /**
   * The full set first, then additions, until the blob is complete. Must end once context.signal aborts (the
   * child stopped watching or went away).
   */
  watch(request: { digest: string }, context: RequestContext): AsyncIterable<HaveUpdate>;
  /** What this peer knows of a blob; without a handler every `meta` request is answered `missing`. */
  meta?(request: { digest: string }, context: RequestContext): Promise<BlobMetaResponse>;
}

/** Serves the piece protocol: `get` (one piece per stream), `watch` (availability updates) and `meta`. */
export async function handlePiece(node: Registrar, handlers: PieceHandlers, options: ServeOptions = {}): Promise<void> {
  await serveProtocol(
    node,
    PIECE_PROTOCOL,
    { maxFrame: MAX_PIECE_CONTROL_FRAME, maxStreams: PIECE_MAX_STREAMS },
    async (bytes, rpc, context) => {
      const request = parsePieceRequest(bytes);
      if (request.type === 'get') {
        await rpc.expectEnd();
        await sendGetReply(rpc, request, await handlers.get({ digest: request.digest, index: request.index }, context), true);
      } else if (request.type === 'meta') {
        await rpc.expectEnd();
        const reply = handlers.meta ? await handlers.meta({ digest: request.digest }, context) : { type: 'missing' };
        await rpc.send(encodeJson(reply, MAX_META_FRAME), true);
      } else {
        await serveWatch(rpc, context, (req, ctx) => handlers.watch(req, ctx), request.digest);
      }
    },
    options,
  );
  await servePieceSessions(node, (request, context) => handlers.get(request, context), options);
}

/**
 * Sends `have` frames until the handler's updates end. The child stops watching by closing its write side (or
 * resetting); anything it sends after the request is a protocol violation.
 */
async function serveWatch(rpc: RpcStream, context: RequestContext, updates: PieceHandlers['watch'], digest: string): Promise<void> {
  const stop = new AbortController();
  rpc.expectEnd().then(
    () => stop.abort(new Error('watcher stopped')),
    (err: unknown) => stop.abort(err),
  );
  const signal = AbortSignal.any([stop.signal, context.signal]);
  for await (const update of updates({ digest }, { ...context, signal })) {
    if (signal.aborted) break;
    await rpc.send(encodeJson({ type: 'have', ...update }, MAX_PIECE_CONTROL_FRAME), false);
  }
  if (isProtocolViolation(stop.signal.reason)) throw stop.signal.reason;
  if (rpc.stream.writeStatus === 'writable') await rpc.stream.close();
}
