import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Cleanup } from '../src/common/cleanup.ts';
import { runFanoutBench } from '../src/fanout/run.ts';

// --client containerd: a real containerd per node, `ctr content fetch` through the node's daemon as its hosts.toml
// mirror. The daemons' logs say where the bytes came from: all of them through the swarm, none around it.

const outDir = join(tmpdir(), `flotilla-fanout-containerd-test-${process.pid}`);

afterAll(() => rm(outDir, { recursive: true, force: true }));

describe('bench fanout --client containerd', () => {
  test('2 nodes pull 4 MiB over p2p with ctr: each node done, every byte from the seed or a peer', async () => {
    const cleanup = new Cleanup();
    try {
      const results = await runFanoutBench(
        { nodes: 2, layerSizes: [4 * 2 ** 20], linkRate: 50_000_000, modes: ['p2p'], outDir, repeat: 1, client: 'containerd', link: 'ratelimit' },
        cleanup,
        () => {},
      );
      const p2p = results.modes.p2p!;
      expect(p2p.errors).toEqual([]);
      expect(p2p.nodes).toHaveLength(2);
      for (const node of p2p.nodes) {
        expect(node.bytesFromSeed + node.bytesFromPeers).toBe(results.imageBytes);
        expect(node.doneSeconds).toBeGreaterThan(0);
        expect(node.firstByteSeconds).toBeLessThanOrEqual(node.doneSeconds);
      }
      expect(p2p.originEgressBytes).toBeGreaterThanOrEqual(results.imageBytes);
      expect(Object.keys(p2p.cpu!.roles)).toEqual(expect.arrayContaining(['containerd', 'ctr']));
    } finally {
      await cleanup.run();
    }
  });
});
