import { randomBytes } from 'node:crypto';
import { digestOf } from '@flotilla/oci';
import type { P2PNode } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import { waitFor } from '@flotilla/test';
import type { HeldBlob } from '@flotilla/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SchedulerPool } from '../src/swarm/scheduler-pool.ts';
import { capturingLogger, fakeScheduler, makeBlob, type FakeScheduler } from './swarm-support.ts';

const blob = makeBlob(64 * 1024);

describe('several schedulers', () => {
  let net: TestNetwork;
  let schedulerNodes: P2PNode[];
  let fakes: FakeScheduler[];
  const pools: SchedulerPool[] = [];

  beforeAll(async () => {
    net = await TestNetwork.create();
    schedulerNodes = await Promise.all([net.node(), net.node(), net.node()]);
    fakes = await Promise.all(schedulerNodes.map((node) => fakeScheduler(node, blob, [])));
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.stop()));
    await net.stop();
  });

  async function pool(holdings: HeldBlob[] = []): Promise<{ pool: SchedulerPool; lines: Array<Record<string, unknown>> }> {
    const { logger, lines } = capturingLogger();
    const p = new SchedulerPool({
      node: await net.node(),
      addresses: fakes.map((f) => f.address),
      timeoutMs: 1_000,
      registration: { uploadSlots: 4 },
      holdings: async function* () {
        yield* holdings;
      },
      logger,
    });
    pools.push(p);
    return { pool: p, lines };
  }

  it('orders the schedulers of a digest the same way in every daemon, and spreads digests over them', async () => {
    const [a, b] = [(await pool()).pool, (await pool()).pool];
    const firsts = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const digest = digestOf(randomBytes(16));
      const order = a.order(digest).map((c) => c.address);
      expect(b.order(digest).map((c) => c.address)).toEqual(order);
      expect(new Set(order).size).toBe(3);
      firsts.set(order[0]!, (firsts.get(order[0]!) ?? 0) + 1);
    }
    for (const fake of fakes) expect(firsts.get(fake.address)).toBeGreaterThan(60);
  });

  it('a task stays with the scheduler that answered and moves to the next one when it stops answering', async () => {
    const { pool: p, lines } = await pool();
    const [first, second] = p.order(blob.digest);
    const route = p.route(blob.digest);
    const task = { type: 'task', digest: blob.digest, registry: '127.0.0.1:9', repository: 'test/blob' } as const;
    expect((await route.call(task)).type).toBe('task-assigned');
    expect(route.peerId).toBe(first!.peerId);

    const firstNode = schedulerNodes[fakes.findIndex((f) => f.address === first!.address)]!;
    const tasksBefore = fakes.map((f) => f.requests.filter((r) => r.type === 'task').length);
    await firstNode.stop();
    expect((await route.call(task)).type).toBe('task-assigned');
    expect(route.peerId).toBe(second!.peerId);
    expect(lines.find((l) => l.msg === 'task moved to another scheduler')).toMatchObject({ from: first!.address, to: second!.address });
    const tasksAfter = fakes.map((f) => f.requests.filter((r) => r.type === 'task').length);
    expect(tasksAfter.reduce((n, c) => n + c, 0) - tasksBefore.reduce((n, c) => n + c, 0)).toBe(1);
  });

  it('tells each scheduler, when it registers us, what we hold among the blobs it comes first for', async () => {
    const live = fakes.filter((f) => f.node.status === 'started');
    const held: HeldBlob[] = Array.from({ length: 40 }, () => ({ digest: digestOf(randomBytes(16)), size: 1 }));
    const { pool: p } = await pool(held);
    const before = live.map((f) => f.requests.filter((r) => r.type === 'holding').length);
    p.start();
    await waitFor(() => live.every((f, i) => f.requests.filter((r) => r.type === 'holding').length > before[i]!), 5_000);
    // A blob whose first scheduler is down goes to the next live one (reported on registration, or when the
    // first one is found down, whichever comes last).
    const expected = (fake: FakeScheduler): string[] =>
      held.filter((h) => p.order(h.digest).find((c) => !c.isDown)?.address === fake.address).map((h) => h.digest).sort();
    const reported = (fake: FakeScheduler, since: number): string[] => [
      ...new Set(fake.requests.filter((r) => r.type === 'holding').slice(since).flatMap((r) => (r.type === 'holding' ? r.blobs.map((b) => b.digest) : []))),
    ].sort();
    await waitFor(() => live.every((f, i) => reported(f, before[i]!).join() === expected(f).join()), 5_000);
    for (const fake of live) expect(expected(fake).length).toBeGreaterThan(5);
  });
});
