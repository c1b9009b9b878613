import { writeAll } from '@flotilla/p2p';
import { MAX_PIECE_CONTROL_FRAME, MAX_RETRY_AFTER_MS } from './piece-messages.ts';
import type { RpcStream } from './rpc.ts';
import { encodeJson } from './validate.ts';

export type PieceGetReply =
  | { type: 'busy'; retryAfterMs?: number }
  | { type: 'missing' }
  | {
      type: 'piece';
      length: number;
      /** Exactly `length` bytes; more or fewer resets the stream. */
      body: Uint8Array | AsyncIterable<Uint8Array>;
      /** Called once when the body was sent (err undefined) or failed: release the upload slot here. */
      done?: (err?: unknown) => void;
    };

/**
 * Sends the reply to one `get`: the response frame, then the body for `piece`. `last`: the stream carries nothing
 * more (PIECE_PROTOCOL), so the write side is closed after it; a session stream stays open for the next request.
 */
export async function sendGetReply(rpc: RpcStream, request: { index: number }, reply: PieceGetReply, last: boolean): Promise<void> {
  if (reply.type !== 'piece') {
    const retryAfterMs = reply.type === 'busy' && reply.retryAfterMs !== undefined ? Math.min(MAX_RETRY_AFTER_MS, Math.ceil(reply.retryAfterMs)) : undefined;
    await rpc.send(encodeJson(retryAfterMs === undefined ? { type: reply.type } : { type: reply.type, retryAfterMs }, MAX_PIECE_CONTROL_FRAME), last);
    return;
  }
  try {
    await rpc.send(encodeJson({ type: 'piece', index: request.index, length: reply.length }, MAX_PIECE_CONTROL_FRAME), false);
    let sent = 0;
    for await (const chunk of reply.body instanceof Uint8Array ? [reply.body] : reply.body) {
      sent += chunk.byteLength;
      if (sent > reply.length) throw new Error(`piece body exceeds its announced ${reply.length} bytes`);
      await writeAll(rpc.stream, chunk);
    }
    if (sent !== reply.length) throw new Error(`piece body ended after ${sent} of ${reply.length} bytes`);
    if (last) await rpc.stream.close();
    reply.done?.();
  } catch (err) {
    reply.done?.(err);
    throw err;
  }
}
