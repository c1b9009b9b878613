import { writeFrame } from '@flotilla/p2p';
import { type PeerId, UnsupportedProtocolError } from '@libp2p/interface';
import { WireError } from './errors.ts';
import { MAX_PIECE_CONTROL_FRAME, PIECE_SESSION_PROTOCOL, parsePieceResponse, type PieceResponse } from './piece-messages.ts';
import { pieceGet, type PieceGetOptions } from './piece-rpc.ts';
import { PIECE_SESSION_MAX_STREAMS } from './piece-session-server.ts';
import { abortReason, type Dialer, isProtocolViolation, RpcStream } from './rpc.ts';
import { encodeJson } from './validate.ts';

/** Idle sessions kept per parent; one more is closed when it finishes (about the requests a child keeps in flight). */
export const MAX_IDLE_SESSIONS = 8;

/** A reused session that turned out closed or reset before it answered: the request goes to a fresh stream. */
const STALE = Symbol('stale session');

interface IdleSession {
  rpc: RpcStream;
  /** Drops the session from the pool if its stream closes while idle. */
  onClose: () => void;
}

/**
 * Piece gets to parents on reused streams (PIECE_SESSION_PROTOCOL). Opening a stream per piece cost both ends
 * about a millisecond of CPU (yamux stream set-up, multistream-select, and libp2p's peer-store merge on every
 * negotiated stream) — a tenth of a daemon's CPU per MB at 1 MiB pieces. Parents that do not speak the session
 * protocol are asked with pieceGet, one stream per piece, as before.
 */
export class PieceSessions {
  readonly #node: Dialer;
  readonly #idle = new Map<string, IdleSession[]>();
  readonly #legacy = new Set<string>();

  constructor(node: Dialer) {
    this.#node = node;
  }

  /** As pieceGet: on `piece`, every byte went to onChunk when this resolves; the caller verifies the digest. */
  async get(peer: PeerId, piece: { digest: string; index: number }, options: PieceGetOptions): Promise<PieceResponse> {
    const key = peer.toString();
    if (this.#legacy.has(key)) return pieceGet(this.#node, peer, piece, options);
    for (let rpc = this.#take(key); rpc !== undefined; rpc = this.#take(key)) {
      const response = await this.#request(key, rpc, piece, options, true);
      if (response !== STALE) return response;
    }
    let rpc: RpcStream;
    try {
      rpc = await RpcStream.open(this.#node, peer, PIECE_SESSION_PROTOCOL, PIECE_SESSION_MAX_STREAMS, { signal: options.signal });
      // The stream outlives this request: each request watches its own signal.
      rpc.done();
    } catch (err) {
      if (!(err instanceof UnsupportedProtocolError)) throw err;
      this.#legacy.add(key);
      return pieceGet(this.#node, peer, piece, options);
    }
    return (await this.#request(key, rpc, piece, options, false)) as PieceResponse;
  }

  /** Idle sessions held now (for tests and metrics). */
  idleCount(peer: PeerId): number {
    return this.#idle.get(peer.toString())?.length ?? 0;
  }

  async #request(
    key: string,
    rpc: RpcStream,
    piece: { digest: string; index: number },
    options: PieceGetOptions,
    reused: boolean,
  ): Promise<PieceResponse | typeof STALE> {
    const signal = options.signal;
    const onAbort = (): void => rpc.stream.abort(abortReason(signal));
    let answered = false;
    try {
      signal?.throwIfAborted();
      signal?.addEventListener('abort', onAbort, { once: true });
      await writeFrame(rpc.stream, encodeJson({ type: 'get', digest: piece.digest, index: piece.index }, MAX_PIECE_CONTROL_FRAME));
      const frame = await rpc.reader.readFrame(MAX_PIECE_CONTROL_FRAME);
      if (frame === undefined) throw new SessionEndedError();
      const expected = options.expectedLength === undefined ? undefined : { index: piece.index, length: options.expectedLength };
      const response = parsePieceResponse(frame, expected);
      answered = true;
      if (response.type === 'piece') {
        if (response.index !== piece.index) throw new WireError(`got piece ${response.index} for a request of piece ${piece.index}`);
        await rpc.reader.readBody(response.length, options.onChunk);
      }
      signal?.removeEventListener('abort', onAbort);
      this.#put(key, rpc);
      return response;
    } catch (err) {
      signal?.removeEventListener('abort', onAbort);
      rpc.stream.abort(err instanceof Error ? err : new Error(String(err)));
      if (signal?.aborted) throw abortReason(signal);
      // The parent closed an idle session (or lost it) just as we reused it: nothing was asked of it yet.
      if (reused && !answered && !isProtocolViolation(err)) return STALE;
      throw err instanceof SessionEndedError ? new WireError('stream ended before the expected message') : err;
    }
  }

  /** A healthy idle session to this parent, if any; closed ones found on the way are dropped. */
  #take(key: string): RpcStream | undefined {
    const idle = this.#idle.get(key);
    for (let session = idle?.pop(); session !== undefined; session = idle?.pop()) {
      session.rpc.stream.removeEventListener('close', session.onClose);
      const { stream } = session.rpc;
      if (stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable') return session.rpc;
      session.rpc.reader.release();
      stream.abort(new Error('piece session no longer usable'));
    }
    if (idle?.length === 0) this.#idle.delete(key);
    return undefined;
  }

  #put(key: string, rpc: RpcStream): void {
    if (rpc.reader.bufferedBytes > 0) {
      // Bytes after the body, before any request: the parent broke the protocol; never reuse the stream.
      rpc.reader.release();
      rpc.stream.abort(new WireError('unexpected data after the piece'));
      return;
    }
    const idle = this.#idle.get(key) ?? [];
    if (idle.length >= MAX_IDLE_SESSIONS) {
      rpc.reader.release();
      void rpc.stream.close().catch(() => undefined);
      return;
    }
    const session: IdleSession = {
      rpc,
      onClose: () => {
        const at = idle.indexOf(session);
        if (at >= 0) idle.splice(at, 1);
        if (idle.length === 0 && this.#idle.get(key) === idle) this.#idle.delete(key);
      },
    };
    rpc.stream.addEventListener('close', session.onClose, { once: true });
    idle.push(session);
    this.#idle.set(key, idle);
  }
}

/** The parent ended the session where a response was due. */
class SessionEndedError extends Error {}

const sessionsByNode = new WeakMap<Dialer, PieceSessions>();

/** The node's piece sessions (one pool per node, made on first use). */
export function pieceSessions(node: Dialer): PieceSessions {
  let sessions = sessionsByNode.get(node);
  if (sessions === undefined) {
    sessions = new PieceSessions(node);
    sessionsByNode.set(node, sessions);
  }
  return sessions;
}
