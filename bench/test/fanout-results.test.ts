import { describe, expect, test } from 'vitest';
import { bytesBySourceSvg, completionCdfSvg, niceTicks } from '../src/fanout/charts.ts';
import { summarizeMode } from '../src/fanout/results.ts';
import type { ModeRun, NodeResult } from '../src/fanout/run-mode.ts';

const node = (doneSeconds: number): NodeResult => ({ firstByteSeconds: 0.1, doneSeconds, bytesFromOrigin: 0, bytesFromSeed: 10, bytesFromPeers: 90 });
const run = (allDoneSeconds: number, ok = true): ModeRun => ({
  ok,
  ...(ok ? {} : { error: 'node 1: wrong digest' }),
  timeoutSeconds: 100,
  allDoneSeconds: ok ? allDoneSeconds : Number.NaN,
  p50Seconds: ok ? allDoneSeconds / 2 : Number.NaN,
  p95Seconds: ok ? allDoneSeconds : Number.NaN,
  originEgressBytes: 100,
  nodes: ok ? [node(allDoneSeconds / 2), node(allDoneSeconds)] : [],
});

describe('fanout results', () => {
  test('repetitions: medians of the good runs, the median run\'s nodes, every failure kept', () => {
    const summary = summarizeMode([run(30), run(10), run(0, false), run(20)]);
    expect(summary.ok).toBe(false);
    expect(summary.errors).toEqual(['node 1: wrong digest']);
    expect(summary.allDoneSeconds).toBe(20);
    expect(summary.nodes.map((n) => n.doneSeconds)).toEqual([10, 20]);
    expect(summary.runs.map((r) => r.ok)).toEqual([true, true, false, true]);
  });

  test('charts: one curve per mode, the S/B line, one stacked bar segment per non-zero source', () => {
    const cdf = completionCdfSvg([{ mode: 'direct', doneSeconds: [5, 9] }, { mode: 'p2p', doneSeconds: [1, 1.2] }], 0.9);
    expect(cdf.match(/<path /g)).toHaveLength(2);
    expect(cdf).toContain('S/B = 0.9 s');
    const bars = bytesBySourceSvg([{ mode: 'p2p', nodes: [node(1), node(2)] }], 100);
    expect(bars.match(/<rect [^>]*fill="#(ff7f0e|1f77b4)"\/>/g)).toHaveLength(4 + 2); // 2 nodes × 2 sources + 2 legend swatches
  });

  test('axis ticks are round and cover the range', () => {
    expect(niceTicks(13.4)).toEqual([0, 5, 10, 15]);
    expect(niceTicks(140)).toEqual([0, 50, 100, 150]);
    expect(niceTicks(1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
});
