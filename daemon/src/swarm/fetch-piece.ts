import { hasherFor, parseDigest } from '@flotilla/oci';
import type { P2PNode } from '@flotilla/p2p';
import type { TokenBucket } from '@flotilla/ratelimit';
import { pieceSessions } from '@flotilla/wire';
import type { PeerId } from '@libp2p/interface';

/** How one piece request to a parent ended. */
export type PieceOutcome =
  | { kind: 'ok'; chunks: Uint8Array[] }
  | { kind: 'busy'; retryAfterMs?: number }
  | { kind: 'missing' | 'corrupt' | 'cancelled' }
  | { kind: 'slow' | 'error'; error: string };

export interface FetchPieceOptions {
  node: P2PNode;
  parent: PeerId;
  blobDigest: string;
  index: number;
  length: number;
  /** The piece's digest from the scheduler: bytes that do not match are `corrupt`. Undefined: checked with the whole blob. */
  pieceDigest: string | undefined;
  downloadBucket: TokenBucket;
  /** The parent must send a byte at least this often (first byte included), else `slow`. */
  idleTimeoutMs: number;
  /** Aborting it ends the request as `cancelled`. */
  cancel: AbortSignal;
  /** The whole download's signal: aborting it rejects. */
  signal: AbortSignal;
}

class PieceTimeout extends Error {}

/** Asks one parent for one piece and checks it; never rejects except when the whole download is aborted. */
export async function fetchPiece(o: FetchPieceOptions): Promise<PieceOutcome> {
  const deadline = new AbortController();
  const signal = AbortSignal.any([deadline.signal, o.cancel, o.signal]);
  const chunks: Uint8Array[] = [];
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => deadline.abort(new PieceTimeout()), o.idleTimeoutMs);
  };
  arm();
  try {
    const reply = await pieceSessions(o.node).get(o.parent, { digest: o.blobDigest, index: o.index }, {
      expectedLength: o.length,
      signal,
      onChunk: async (chunk) => {
        // Waiting on our own download limit is not the parent's slowness.
        clearTimeout(timer);
        await o.downloadBucket.take(chunk.byteLength, signal);
        chunks.push(chunk);
        arm();
      },
    });
    if (reply.type === 'busy') return reply.retryAfterMs === undefined ? { kind: 'busy' } : { kind: 'busy', retryAfterMs: reply.retryAfterMs };
    if (reply.type !== 'piece') return { kind: reply.type };
    return o.pieceDigest === undefined || digestMatches(o.pieceDigest, chunks) ? { kind: 'ok', chunks } : { kind: 'corrupt' };
  } catch (err) {
    if (o.signal.aborted) throw o.signal.reason;
    if (deadline.signal.aborted) return { kind: 'slow', error: `no bytes for ${o.idleTimeoutMs} ms` };
    if (o.cancel.aborted) return { kind: 'cancelled' };
    return { kind: 'error', error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** Do these bytes hash to `digest` (`sha256:...`)? */
export function digestMatches(digest: string, chunks: readonly Uint8Array[]): boolean {
  const expected = parseDigest(digest);
  const hasher = hasherFor(expected);
  for (const chunk of chunks) hasher.update(chunk);
  return `${expected.algorithm}:${hasher.digest('hex')}` === expected.value;
}
