import { readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Cleanup } from '../src/common/cleanup.ts';
import type { FanoutResults } from '../src/fanout/results.ts';
import { runFanoutBench, writeFanoutOutputs } from '../src/fanout/run.ts';

// A real p2p-dht run, small: 3 daemons with no scheduler (each bootstrapped through another), an 8 MiB image, twice
// (--repeat 2). Each node's bytes by source come from its daemon's log and must add up to the image.

const outDir = join(tmpdir(), `flotilla-fanout-dht-test-${process.pid}`);

afterAll(() => rm(outDir, { recursive: true, force: true }));

describe('bench fanout --modes p2p-dht', () => {
  test('3 nodes, 8 MiB, two runs: every node gets the image, its bytes from origin + peers add up to it, no seed', async () => {
    const cleanup = new Cleanup();
    try {
      await writeFanoutOutputs(
        await runFanoutBench(
          { nodes: 3, layerSizes: [8 * 2 ** 20], linkRate: 50_000_000, modes: ['p2p-dht'], outDir, repeat: 2, client: 'daemon', link: 'ratelimit' },
          cleanup,
          () => {},
        ),
        outDir,
      );
      const results = JSON.parse(await readFile(join(outDir, 'results.json'), 'utf8')) as FanoutResults;
      const mode = results.modes['p2p-dht']!;
      expect(mode.errors).toEqual([]);
      expect(results.allOk).toBe(true);
      expect(results.imageBytes).toBeGreaterThan(8 * 2 ** 20);
      expect(results.idealSeconds).toBeCloseTo(results.imageBytes / 50_000_000, 6);
      expect(mode.runs.map((run) => run.ok)).toEqual([true, true]);
      expect(mode.nodes).toHaveLength(3);
      for (const node of mode.nodes) {
        expect(node.bytesFromOrigin + node.bytesFromSeed + node.bytesFromPeers).toBe(results.imageBytes);
        expect(node.bytesFromSeed).toBe(0);
        expect(node.doneSeconds).toBeGreaterThanOrEqual(node.firstByteSeconds);
      }
      // Two runs: the figures are their medians (the mean of the two).
      expect(mode.allDoneSeconds).toBeCloseTo((mode.runs[0]!.allDoneSeconds + mode.runs[1]!.allDoneSeconds) / 2, 6);
      // No seed: the first miss goes to the origin; at worst every node fetched it whole (plus three small manifests).
      expect(mode.originEgressBytes).toBeGreaterThanOrEqual(results.imageBytes);
      expect(mode.originEgressBytes).toBeLessThanOrEqual(3 * results.imageBytes + 3 * 4096);
      expect((await readdir(join(outDir, 'logs'))).sort()).toEqual(['p2p-dht-1', 'p2p-dht-2']);
      const report = await readFile(join(outDir, 'report.md'), 'utf8');
      expect(report).toContain('**Links:** ratelimit');
      expect(report).toContain('**Client:** the bench\'s HTTP client');
    } finally {
      await cleanup.run();
    }
  }, 120_000);
});
