import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { StreamClosedError } from '@flotilla/p2p';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SchedRequest, SchedResponse, TaskMeta } from '../src/sched-messages.ts';
import { handleSched, schedCall } from '../src/sched-rpc.ts';
import { DIGEST, PEER_IDS } from './arbitraries.ts';

const meta: TaskMeta = {
  digest: DIGEST,
  size: 5 * 2 ** 20 + 7,
  pieceLength: 2 ** 20,
  pieceCount: 6,
  pieceDigests: [DIGEST, null, DIGEST, null, null, DIGEST],
};
const parents = [{ peerId: PEER_IDS[0]!, addresses: ['/ip4/10.1.2.3/tcp/4001'] }];

/** A scripted scheduler: answers by request type, records what it received. */
const answers: Record<SchedRequest['type'], SchedResponse> = {
  register: { type: 'registered', ttlMs: 30_000 },
  task: { type: 'task-assigned', meta, parents },
  report: { type: 'report-ack', pieceDigests: { from: 1, digests: [DIGEST] }, parents },
  reschedule: { type: 'back-to-source', reason: 'no parents left' },
  leave: { type: 'ok' },
  holding: { type: 'ok' },
};

describe('sched protocol over a real libp2p pair', () => {
  let net: TestNetwork;
  let scheduler: P2PNode;
  let daemon: P2PNode;
  const received: SchedRequest[] = [];
  const errors: unknown[] = [];

  beforeAll(async () => {
    net = await TestNetwork.create();
    scheduler = await net.node();
    daemon = await net.node();
    await handleSched(
      scheduler,
      async (request, context) => {
        expect(context.peer.toString()).toBe(daemon.peerId.toString());
        received.push(request);
        if (request.type === 'task' && request.repository === 'private/app') {
          return { type: 'error', code: 'unauthorized', message: 'credentials refused by the origin' };
        }
        return answers[request.type];
      },
      { onError: (err) => errors.push(err) },
    );
  });
  afterAll(async () => {
    await net.stop();
  });

  it('round-trips every request and response', async () => {
    const requests: SchedRequest[] = [
      { type: 'register', addresses: ['/ip4/10.0.0.2/tcp/4001'], zone: 'rack-1', uploadSlots: 200, uploadRate: 125_000_000 },
      { type: 'task', digest: DIGEST, registry: 'docker.io', repository: 'library/alpine', authorization: 'Bearer t0k3n' },
      { type: 'report', digest: DIGEST, finished: [0, 2, 5], failed: [{ index: 1, peer: PEER_IDS[1]!, reason: 'digest mismatch' }] },
      { type: 'reschedule', digest: DIGEST, exclude: [PEER_IDS[0]!] },
      { type: 'leave' },
    ];
    const target = scheduler.getMultiaddrs();
    for (const request of requests) {
      expect(await schedCall(daemon, target, request, { signal: AbortSignal.timeout(5_000) })).toEqual(answers[request.type]);
    }
    expect(received.slice(-requests.length)).toEqual(requests);

    const refused = await schedCall(daemon, target, { type: 'task', digest: DIGEST, registry: 'r.example', repository: 'private/app' });
    expect(refused).toEqual({ type: 'error', code: 'unauthorized', message: 'credentials refused by the origin' });
    expect(errors).toEqual([]);
  });

  it('serves many concurrent calls on one connection (stream limits raised)', async () => {
    const calls = Array.from({ length: 200 }, () =>
      schedCall(daemon, scheduler.getMultiaddrs(), { type: 'leave' }, { signal: AbortSignal.timeout(20_000) }),
    );
    expect(await Promise.all(calls)).toEqual(Array(200).fill({ type: 'ok' }));
    expect(daemon.getConnections(scheduler.peerId)).toHaveLength(1);
  });

  it('rejects an aborted call by resetting its stream', async () => {
    const controller = new AbortController();
    controller.abort(new Error('caller gave up'));
    await expect(schedCall(daemon, scheduler.getMultiaddrs(), { type: 'leave' }, { signal: controller.signal })).rejects.toThrow(
      'caller gave up',
    );
  });

  it('resets the stream when the handler answers with a reply the request does not allow', async () => {
    const other = await net.node();
    const otherErrors: unknown[] = [];
    await handleSched(other, async () => ({ type: 'ok' }), { onError: (err) => otherErrors.push(err) });
    const call = schedCall(daemon, other.getMultiaddrs(), { type: 'register', addresses: [], uploadSlots: 1 });
    await expect(call).rejects.toBeInstanceOf(StreamClosedError);
    expect(String(otherErrors[0])).toMatch(/answered "register" with "ok"/);
  });
});
