import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@flotilla/config';
import { describe, expect, test } from 'vitest';
import { WindowThenRarest } from '../../daemon/src/swarm/piece-order.ts';
import { runSimulation } from '../src/sim/engine.ts';
import { FluidNetwork } from '../src/sim/network.ts';
import { loadSimOptions, type SimConfig } from '../src/sim/options.ts';
import { pickPieces } from '../src/sim/piece-picker.ts';
import { mix, Rng } from '../src/sim/rng.ts';
import { schedulerBytesPerPeer } from '../src/sim/scheduler-memory.ts';
import { SimUploadQueue } from '../src/sim/upload-queue.ts';

const MiB = 2 ** 20;
const config = (argv: string[]): SimConfig => loadSimOptions(argv, {}).runs[0]!;
/** 50 nodes, two layers on two seeds, 10 MB/s links: S/B ≈ 4.2 s, a second or two of CPU. */
const SMALL = ['--nodes', '50', '--layers', '24MiB,16MiB', '--link-rate', '10MB', '--seeds', '2'];

describe('bench sim: physics', () => {
  const c = config(SMALL);
  const outcome = runSimulation(c);
  const S = 40 * MiB;
  const ideal = S / c.linkRate;

  test('every node completes, none faster than S/B', () => {
    expect(outcome.ok).toBe(true);
    expect(outcome.nodes).toHaveLength(50);
    for (const node of outcome.nodes) {
      expect(Number.isFinite(node.doneSeconds)).toBe(true);
      expect(node.doneSeconds).toBeGreaterThanOrEqual(ideal * (1 - 1e-9));
      expect(node.firstByteSeconds).toBeLessThan(node.doneSeconds);
    }
  });

  test('bytes are conserved: each node got exactly S, senders sent what receivers got', () => {
    expect(outcome.imageBytes).toBe(S);
    for (const node of outcome.nodes) expect(node.bytesFromOrigin + node.bytesFromSeed + node.bytesFromPeers).toBe(S);
    expect(outcome.bytesSent).toBeCloseTo(outcome.bytesReceived, -3);
    const fromSeeds = outcome.nodes.reduce((sum, n) => sum + n.bytesFromSeed, 0);
    expect(outcome.seedEgressBytes).toBeCloseTo(fromSeeds, -3);
    // The seeds' own fetch, plus whatever nodes took from the origin themselves.
    const fromOrigin = outcome.nodes.reduce((sum, n) => sum + n.bytesFromOrigin, 0);
    expect(outcome.originEgressBytes).toBe(S + fromOrigin);
    expect(outcome.originEgressBytes).toBeGreaterThanOrEqual(S);
    // Everything the network carried: the seeds' fetch and N copies of S.
    expect(outcome.bytesReceived).toBeCloseTo(S + 50 * S, -3);
  });

  test('the real scheduler was asked: one task call per node and layer, then reports', () => {
    expect(outcome.schedulerCalls).toBeGreaterThan(50 * 2 * 2);
    expect(outcome.pieceLengths).toEqual([MiB, MiB]);
  });

  test('the same --rng-seed gives the same run; another seed another', () => {
    const again = runSimulation(c);
    expect(again.nodes).toEqual(outcome.nodes);
    expect(again.steps).toBe(outcome.steps);
    const other = runSimulation(config([...SMALL, '--rng-seed', '7']));
    expect(other.nodes).not.toEqual(outcome.nodes);
  });
});

describe('bench sim: parts', () => {
  test('the fluid network shares a link fairly and never beyond its capacity', () => {
    // Node 0 sends to 1 and 2; node 3 also sends to 2. Capacities 100 B/s (node 2's downlink: 60).
    const net = new FluidNetwork([{ up: 100, down: 100 }, { up: 100, down: 100 }, { up: 100, down: 60 }, { up: 100, down: 100 }]);
    const done: string[] = [];
    net.start(0, 1, 1000, () => done.push('0→1'));
    net.start(0, 2, 1000, () => done.push('0→2'));
    net.start(3, 2, 1000, () => done.push('3→2'));
    net.step(0, 1000);
    // Node 2's 60 B/s split 30/30; node 0 gives what 0→2 leaves to 0→1: 70.
    expect([...net.received]).toEqual([0, 70, 60, 0]);
    expect([...net.sent]).toEqual([100, 0, 0, 30]);
    expect(done).toEqual([]);
  });

  test('an upload queue sends a few at a time, in arrival order, and refuses past its slots or its wait', () => {
    const queue = new SimUploadQueue({ rate: 100, slots: 6, maxWaitMs: 1_500, sending: 2 });
    const left = new Map<string, number>();
    const started: string[] = [];
    const upload = (name: string) => ({
      bytes: 40,
      start: () => {
        started.push(name);
        left.set(name, 40);
        return () => left.get(name)!;
      },
    });
    const uploads = ['a', 'b', 'c', 'd'].map(upload);
    for (const u of uploads) expect(queue.admit(u)).toEqual({ ok: true });
    expect(started).toEqual(['a', 'b']);
    // 160 bytes admitted at 100 B/s: 1.6 s of backlog, past the 1.5 s wait: come back in 0.1 s.
    expect(queue.admit(upload('e'))).toEqual({ ok: false, retryAfterMs: 100 });
    left.set('a', 0);
    queue.finished(uploads[0]!);
    expect(started).toEqual(['a', 'b', 'c']);
    const wide = new SimUploadQueue({ rate: Number.POSITIVE_INFINITY, slots: 2, maxWaitMs: 1, sending: Number.POSITIVE_INFINITY });
    expect(wide.admit(upload('f'))).toEqual({ ok: true });
    expect(wide.admit(upload('g'))).toEqual({ ok: true });
    expect(wide.admit(upload('h')).ok).toBe(false);
  });

  test('the scheduler\'s heap per peer is measured: positive, and more pieces cost more', () => {
    const small = schedulerBytesPerPeer(2000, [8], 4);
    const large = schedulerBytesPerPeer(2000, [4096, 4096], 4);
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(small + 500);
  });

  test('the piece picker picks what the daemon\'s WindowThenRarest picks', () => {
    const rng = new Rng(3);
    const tie = (i: number) => mix(0xabcdef, i) % 8;
    const order = new WindowThenRarest(4, tie);
    for (let round = 0; round < 300; round++) {
      const pieceCount = 1 + Math.floor(rng.next() * 60);
      const frontier = Math.floor(rng.next() * pieceCount);
      const known = frontier + Math.floor(rng.next() * (pieceCount - frontier + 1));
      const holders = Array.from({ length: pieceCount }, () => Math.floor(rng.next() * 4));
      const requestable = Array.from({ length: pieceCount }, (_, i) => i < known && rng.next() < 0.7);
      const count = 1 + Math.floor(rng.next() * 12);
      const expected = order.pick({ pieceCount, frontier, requestable: (i) => requestable[i]!, holders: (i) => holders[i]! }, count);
      const picked = pickPieces({ frontier, end: known, window: 4, requestable: (i) => requestable[i]!, holders: (i) => holders[i]!, tie }, count);
      expect(picked).toEqual(expected);
    }
  });
});

describe('bench sim: flags', () => {
  const error = (...argv: string[]) => {
    try {
      loadSimOptions(argv, {});
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error(`accepted ${argv.join(' ')}`);
  };

  test('the kraken preset, and flags over it', () => {
    const kraken = loadSimOptions(['--preset', 'kraken'], {});
    expect(kraken.runs).toMatchObject([{ nodes: 2600, layerSizes: [1.5e9, 1.5e9], linkRate: 300e6, seeds: 3, seedRate: 300e6 }]);
    expect(loadSimOptions(['--preset', 'kraken', '--nodes', '10'], {}).runs[0]).toMatchObject({ nodes: 10, seeds: 3 });
    const sweep = loadSimOptions(['--sweep', '100, 1000,10000', '--image-size', '1GiB'], {});
    expect(sweep.runs.map((r) => r.nodes)).toEqual([100, 1000, 10000]);
    expect(sweep.sweep).toBe(true);
    const both = loadSimOptions(['--sweep', '10,20', '--policy', 'load-aware,seed-group'], {});
    expect(both.runs.map((r) => `${r.policy}/${r.nodes}`)).toEqual(['load-aware/10', 'load-aware/20', 'seed-group/10', 'seed-group/20']);
  });

  test('bad values name the flag', () => {
    expect(error('--nodes', '0')).toContain('--nodes');
    expect(error('--link-rate', 'fast')).toContain('--link-rate');
    expect(error('--sweep', '100,,1000')).toContain('--sweep');
    expect(error('--layers', '1GB,x')).toContain('--layers');
    expect(error('--preset', 'bittorrent')).toContain('--preset');
    expect(error('--time-step', '0')).toContain('--time-step');
    expect(error('--nodes', '10', '--sweep', '10,20')).toContain('not both');
    expect(error('--policy', 'random')).toContain('--policy');
    expect(error('--origin-fallback', 'never')).toContain('--origin-fallback');
    expect(error('--policy', 'seed-group,seed-group')).toContain('--policy');
  });

  test('the CLI refuses a bad flag with exit 2 and a message naming it', async () => {
    const main = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [main, 'bench', 'sim', '--seeds', 'many'], { cwd: join(main, '../../../..'), stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, stderr }));
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--seeds');
  });
});
