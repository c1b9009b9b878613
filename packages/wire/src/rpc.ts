import { FrameTooLargeError, StreamReader, UnexpectedEndOfStreamError, writeFrame } from '@flotilla/p2p';
import type { Connection, DialTarget, Libp2p, PeerId, Stream } from '@libp2p/interface';
import { WireError } from './errors.ts';

/** What the client helpers need from a node (a Libp2p, or a test double). */
export type Dialer = Pick<Libp2p, 'dialProtocol'>;
/** What the server helpers need from a node. */
export type Registrar = Pick<Libp2p, 'handle'>;

export interface CallOptions {
  /** Aborting resets the stream, which rejects the pending call. */
  signal?: AbortSignal;
}

/** True when the remote broke the protocol (as opposed to a network failure or a local error). */
export function isProtocolViolation(err: unknown): boolean {
  return err instanceof WireError || err instanceof FrameTooLargeError || err instanceof UnexpectedEndOfStreamError;
}

/** One end of an RPC stream: send a frame, read frames and raw bytes, fail by resetting. */
export class RpcStream {
  readonly stream: Stream;
  readonly reader: StreamReader;
  readonly #signal: AbortSignal | undefined;

  /** Wraps an open stream (the server side, or a client stream opened elsewhere). */
  constructor(stream: Stream, signal?: AbortSignal) {
    this.stream = stream;
    this.reader = new StreamReader(stream);
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  static async open(node: Dialer, peer: DialTarget, protocol: string, maxStreams: number, options: CallOptions): Promise<RpcStream> {
    options.signal?.throwIfAborted();
    const stream = await node.dialProtocol(peer, protocol, { signal: options.signal, maxOutboundStreams: maxStreams });
    if (options.signal?.aborted) {
      stream.abort(abortReason(options.signal));
      options.signal.throwIfAborted();
    }
    return new RpcStream(stream, options.signal);
  }

  /** Writes one frame; closeWrite half-closes afterwards (the request is complete). */
  async send(payload: Uint8Array, closeWrite: boolean): Promise<void> {
    await writeFrame(this.stream, payload);
    if (closeWrite) await this.stream.close();
  }

  /** The next frame; a missing one (the remote closed first) is a protocol violation. */
  async receive(maxLength: number): Promise<Uint8Array> {
    const frame = await this.reader.readFrame(maxLength);
    if (frame === undefined) throw new WireError('stream ended before the expected message');
    return frame;
  }

  /** Waits for the remote's clean end; anything more is a protocol violation. */
  async expectEnd(): Promise<void> {
    if ((await this.reader.readFrame(0)) !== undefined) throw new WireError('unexpected data after the last message');
  }

  /** Resets the stream because of err, and returns err for rethrowing. */
  fail(err: unknown): unknown {
    this.#release();
    this.stream.abort(err instanceof Error ? err : new Error(String(err)));
    return this.#signal?.aborted ? abortReason(this.#signal) : err;
  }

  /** Finished normally: stop watching the signal. */
  done(): void {
    this.#release();
  }

  #release(): void {
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  readonly #onAbort = (): void => {
    this.stream.abort(abortReason(this.#signal));
  };
}

export interface ServeOptions {
  /** Called when a stream failed: a protocol violation by the peer (see isProtocolViolation) or a handler error. */
  onError?: (err: unknown, peer: PeerId) => void;
  /** Time a peer gets to send its request frame after opening a stream. Default 10 s. */
  requestTimeoutMs?: number;
}

export interface RequestContext {
  peer: PeerId;
  connection: Connection;
  /** Aborted when the stream closes or resets, e.g. because the client gave up. */
  signal: AbortSignal;
}

/**
 * Registers `protocol` with raised stream limits. Each inbound stream's first frame goes to `serve`; any error
 * resets the stream (the peer sees a reset, never a half-written reply) and is passed to onError.
 */
export async function serveProtocol(
  node: Registrar,
  protocol: string,
  limits: { maxFrame: number; maxStreams: number },
  serve: (request: Uint8Array, rpc: RpcStream, context: RequestContext) => Promise<void>,
  options: ServeOptions = {},
): Promise<void> {
  const timeoutMs = options.requestTimeoutMs ?? 10_000;
  await node.handle(
    protocol,
    async (stream, connection) => {
      const closed = new AbortController();
      const onClose = (): void => closed.abort(new Error('stream closed'));
      stream.addEventListener('close', onClose);
      let timedOut: WireError | undefined;
      const timer = setTimeout(() => {
        timedOut = new WireError(`no request within ${timeoutMs} ms`);
        stream.abort(timedOut);
      }, timeoutMs);
      try {
        const rpc = new RpcStream(stream);
        const request = await rpc.receive(limits.maxFrame);
        clearTimeout(timer);
        await serve(request, rpc, { peer: connection.remotePeer, connection, signal: closed.signal });
      } catch (err) {
        const error = timedOut ?? err;
        stream.abort(error instanceof Error ? error : new Error(String(error)));
        options.onError?.(error, connection.remotePeer);
      } finally {
        clearTimeout(timer);
        stream.removeEventListener('close', onClose);
      }
    },
    { maxInboundStreams: limits.maxStreams, maxOutboundStreams: limits.maxStreams },
  );
}

/** The signal's reason as an Error (what a call aborted by it rejects with). */
export function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error('aborted');
}
