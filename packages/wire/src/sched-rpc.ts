import type { DialTarget } from '@libp2p/interface';
import { WireError } from './errors.ts';
import { type CallOptions, type Dialer, type Registrar, type RequestContext, RpcStream, type ServeOptions, serveProtocol } from './rpc.ts';
import {
  MAX_SCHED_FRAME,
  parseSchedRequest,
  parseSchedResponse,
  SCHED_PROTOCOL,
  SCHED_REPLIES,
  type SchedRequest,
  type SchedRequestContext,
  type SchedResponse,
  type SchedResponseFor,
} from './sched-messages.ts';
import { encodeJson } from './validate.ts';

/** Every daemon talks to the scheduler at once; keep well above libp2p's 32/64 per-connection defaults. */
export const SCHED_MAX_STREAMS = 256;

export interface SchedCallOptions extends CallOptions {
  /** The task's piece count, when known, to check report-ack digests against. */
  pieceCount?: number;
}

/** One request on its own stream; the response is validated and must be one the request allows. */
export async function schedCall<R extends SchedRequest>(
  node: Dialer,
  peer: DialTarget,
  request: R,
  options: SchedCallOptions = {},
): Promise<SchedResponseFor<R>> {
  const payload = encodeJson(request, MAX_SCHED_FRAME);
  const rpc = await RpcStream.open(node, peer, SCHED_PROTOCOL, SCHED_MAX_STREAMS, options);
  try {
    await rpc.send(payload, true);
    const response = parseSchedResponse(await rpc.receive(MAX_SCHED_FRAME), { pieceCount: options.pieceCount });
    const allowed: readonly string[] = SCHED_REPLIES[request.type];
    if (!allowed.includes(response.type)) throw new WireError(`"${response.type}" is not a reply to "${request.type}"`);
    await rpc.expectEnd();
    rpc.done();
    return response as SchedResponseFor<R>;
  } catch (err) {
    throw rpc.fail(err);
  }
}

export type SchedHandler = (request: SchedRequest, context: RequestContext) => Promise<SchedResponse>;

export interface HandleSchedOptions extends ServeOptions, SchedRequestContext {}

/** Serves the scheduler protocol: one validated request in, one response out per stream. */
export async function handleSched(node: Registrar, handler: SchedHandler, options: HandleSchedOptions = {}): Promise<void> {
  await serveProtocol(
    node,
    SCHED_PROTOCOL,
    { maxFrame: MAX_SCHED_FRAME, maxStreams: SCHED_MAX_STREAMS },
    async (bytes, rpc, context) => {
      const request = parseSchedRequest(bytes, options);
      await rpc.expectEnd();
      const response = await handler(request, context);
      const allowed: readonly string[] = SCHED_REPLIES[request.type];
      if (!allowed.includes(response.type)) throw new Error(`handler answered "${request.type}" with "${response.type}"`);
      await rpc.send(encodeJson(response, MAX_SCHED_FRAME), true);
    },
    options,
  );
}
