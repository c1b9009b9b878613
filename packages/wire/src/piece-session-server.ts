import { WireError } from './errors.ts';
import { MAX_PIECE_CONTROL_FRAME, PIECE_SESSION_PROTOCOL, parsePieceRequest } from './piece-messages.ts';
import { type PieceGetReply, sendGetReply } from './piece-reply.ts';
import { type Registrar, type RequestContext, RpcStream, type ServeOptions } from './rpc.ts';

/** Streams per protocol per connection: a child's concurrent gets to one parent each hold one. */
export const PIECE_SESSION_MAX_STREAMS = 1024;
/** A session with no request for this long is closed by the server (the child opens a new one when it needs it). */
export const SESSION_IDLE_MS = 30_000;

/**
 * Serves PIECE_SESSION_PROTOCOL: `get` requests one after another on one stream, each answered as on
 * PIECE_PROTOCOL but without closing the stream. The session ends when the child closes its write side (or after
 * SESSION_IDLE_MS without a request); any error resets the stream and goes to onError, as serveProtocol does.
 */
export async function servePieceSessions(
  node: Registrar,
  get: (request: { digest: string; index: number }, context: RequestContext) => Promise<PieceGetReply>,
  options: ServeOptions = {},
): Promise<void> {
  await node.handle(
    PIECE_SESSION_PROTOCOL,
    async (stream, connection) => {
      const closed = new AbortController();
      const onClose = (): void => closed.abort(new Error('stream closed'));
      stream.addEventListener('close', onClose);
      const context: RequestContext = { peer: connection.remotePeer, connection, signal: closed.signal };
      const rpc = new RpcStream(stream);
      let idle: NodeJS.Timeout | undefined;
      try {
        for (;;) {
          // Closing our write side tells the child to drop the session; its next request goes to a new stream.
          idle = setTimeout(() => void stream.close().catch(() => undefined), SESSION_IDLE_MS);
          const frame = await rpc.reader.readFrame(MAX_PIECE_CONTROL_FRAME);
          clearTimeout(idle);
          if (frame === undefined) break;
          const request = parsePieceRequest(frame);
          if (request.type !== 'get') throw new WireError(`a piece session carries only get requests, not ${request.type}`);
          await sendGetReply(rpc, request, await get({ digest: request.digest, index: request.index }, context), false);
        }
        if (stream.writeStatus === 'writable') await stream.close();
      } catch (err) {
        stream.abort(err instanceof Error ? err : new Error(String(err)));
        options.onError?.(err, connection.remotePeer);
      } finally {
        clearTimeout(idle);
        stream.removeEventListener('close', onClose);
      }
    },
    { maxInboundStreams: PIECE_SESSION_MAX_STREAMS, maxOutboundStreams: PIECE_SESSION_MAX_STREAMS },
  );
}
