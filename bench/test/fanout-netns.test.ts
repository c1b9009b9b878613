import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from '@flotilla/test';
import { afterAll, describe, expect, test } from 'vitest';
import { Cleanup } from '../src/common/cleanup.ts';
import { createNetnsNetwork, listBenchNamespaces } from '../src/fanout/netns.ts';
import { runFanoutBench } from '../src/fanout/run.ts';

// --link netns needs root (as here and in CI): namespaces, veths and a bridge of this test's own, all named with
// this process's pid, and a leftover faked under the pid of a process that has exited.

const outDir = join(tmpdir(), `flotilla-fanout-netns-test-${process.pid}`);
const ours = (name: string) => name.startsWith(`flotilla-bench-${process.pid}-`);
const ownLinks = async (pid: number) =>
  (await runChecked('ip', ['-o', 'link', 'show'])).stdout.split('\n').filter((line) => new RegExp(`^\\d+: fb${pid}(br|h\\d+)[:@]`).test(line));

afterAll(() => rm(outDir, { recursive: true, force: true }));

/** The pid of a process that has exited: what a killed bench run leaves its names under. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await once(child, 'exit');
  return child.pid!;
}

describe('bench fanout --link netns', () => {
  test('a namespace per host, every link shaped on the bridge side both ways, loss rule on arrival; removed without a trace', async () => {
    const network = await createNetnsNetwork({ nodes: 2, rate: 20_000_000, lossPercent: 1 });
    try {
      expect(network.namespaces.filter(ours)).toHaveLength(3); // seed + 2 nodes
      expect((await listBenchNamespaces()).filter(ours).sort()).toEqual([...network.namespaces].sort());
      const [seed, node] = [network.namespaces[0]!, network.namespaces[1]!];
      // Origin, seed and 2 nodes: a downlink tbf on each bridge port, an uplink tbf on each port's ifb, which the
      // port's ingress is redirected to. 20·10⁶ payload bytes/s = 20·10⁶ · 1514/1448 frame bytes/s ≈ 167.3 Mbit/s.
      const qdiscs = (await runChecked('tc', ['qdisc', 'show'])).stdout.split('\n');
      const shaped = (kind: 'h' | 'i') => qdiscs.filter((line) => new RegExp(`^qdisc tbf .* dev fb${process.pid}${kind}\\d+ root .* rate 167\\d{3}Kbit`).test(line));
      expect(shaped('h')).toHaveLength(4);
      expect(shaped('i')).toHaveLength(4);
      const redirect = (await runChecked('tc', ['filter', 'show', 'dev', `fb${process.pid}h2`, 'ingress'])).stdout;
      expect(redirect).toContain(`Redirect to device fb${process.pid}i2`);
      expect((await runChecked('tc', ['-n', node, 'qdisc', 'show', 'dev', 'eth0'])).stdout).not.toContain('tbf'); // not in the sender's stack
      expect((await runChecked('ip', ['-n', seed, '-4', '-o', 'addr', 'show', 'dev', 'eth0'])).stdout).toContain(`inet ${network.seed.ip}/24`);
      const loss = (await runChecked('ip', ['netns', 'exec', node, 'nft', 'list', 'ruleset'])).stdout;
      expect(loss).toMatch(/iifname "eth0" numgen random mod 1000000 < 10000 drop/);
    } finally {
      await network.remove();
    }
    expect((await listBenchNamespaces()).filter(ours)).toEqual([]);
    expect(await ownLinks(process.pid)).toEqual([]);
  });

  test('a tiny p2p run in namespaces: every node gets the image over the swarm; the leftover of a killed run is gone, and so is everything of this run', async () => {
    const dead = await deadPid();
    await runChecked('ip', ['netns', 'add', `flotilla-bench-${dead}-n0`]);
    await runChecked('ip', ['link', 'add', `fb${dead}br`, 'type', 'bridge']);
    const cleanup = new Cleanup();
    try {
      const results = await runFanoutBench(
        { nodes: 2, layerSizes: [2 * 2 ** 20], linkRate: 20_000_000, modes: ['p2p'], outDir, repeat: 1, client: 'daemon', link: 'netns', lossPercent: 0.1 },
        cleanup,
        () => {},
      );
      const p2p = results.modes.p2p!;
      expect(p2p.errors).toEqual([]);
      expect(p2p.nodes).toHaveLength(2);
      for (const node of p2p.nodes) expect(node.bytesFromOrigin + node.bytesFromSeed + node.bytesFromPeers).toBe(results.imageBytes);
      expect(p2p.originEgressBytes).toBeGreaterThanOrEqual(results.imageBytes);
      expect(Object.keys(p2p.cpu!.roles)).toEqual(expect.arrayContaining(['forwarding proxy', 'scheduler', 'daemons', 'client processes']));
    } finally {
      await cleanup.run();
    }
    expect((await listBenchNamespaces()).filter((name) => ours(name) || name.startsWith(`flotilla-bench-${dead}-`))).toEqual([]);
    expect([...(await ownLinks(process.pid)), ...(await ownLinks(dead))]).toEqual([]);
  });
});
