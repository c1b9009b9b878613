import type { MachineInfo } from '../common/machine.ts';
import { percentile } from '../common/stats.ts';
import type { GoalCheck } from '../fanout/results.ts';
import type { SimNodeResult, SimOutcome } from './engine.ts';
import type { PolicyName, SimConfig, SimOptions } from './options.ts';

/** Kraken's published figures for its 2600-host test, as multiples of the per-host-limit time. */
export const KRAKEN_PUBLISHED = { p50: 1.0, p99: 1.8, p999: 2.2 } as const;
/** The goal for the Kraken experiment. */
export const P99_GOAL = 1.3;

/** One simulated run (one node count). */
export interface SimRunResult {
  nodes: number;
  policy: PolicyName;
  ok: boolean;
  /** Nodes that had every layer when the run ended (all of them when ok). */
  finishedNodes: number;
  error?: string;
  allDoneSeconds: number;
  p50Seconds: number;
  p95Seconds: number;
  p99Seconds: number;
  p999Seconds: number;
  /** The same, ÷ S/B. */
  ratios: { p50: number; p95: number; p99: number; p999: number; allDone: number; fastest: number };
  originEgressBytes: number;
  seedEgressBytes: number;
  /** Bytes over every link, counted at the senders and at the receivers. */
  bytesSent: number;
  bytesReceived: number;
  pieceLengths: number[];
  scheduler: { cpuMs: number; calls: number; cpuMsPerPeer: number; heapBytesPerPeer: number };
  simulatedSeconds: number;
  steps: number;
  wallSeconds: number;
  cpuSeconds: number;
  /** In node order. */
  nodeResults: SimNodeResult[];
}

/**
 * results.json. `imageBytes`, `linkBytesPerSecond`, `idealSeconds` and `modes.p2p` (the largest run of the first
 * policy: the scheduler's default unless --policy says otherwise) carry the same fields as `bench fanout` writes, so
 * tools reading one read the other.
 */
export interface SimResults {
  kind: 'sim';
  date: string;
  machine: MachineInfo;
  preset: string | undefined;
  config: Omit<SimConfig, 'nodes' | 'policy'>;
  policies: PolicyName[];
  imageBytes: number;
  linkBytesPerSecond: number;
  idealSeconds: number;
  runs: SimRunResult[];
  modes: { p2p: { ok: boolean; allDoneSeconds: number; p50Seconds: number; p95Seconds: number; originEgressBytes: number; nodes: SimNodeResult[] } };
  goals: GoalCheck[];
  allOk: boolean;
}

export function summarizeRun(config: SimConfig, outcome: SimOutcome, heapBytesPerPeer: number): SimRunResult {
  const ideal = outcome.imageBytes / config.linkRate;
  const done = outcome.nodes.map((n) => n.doneSeconds);
  const at = (p: number) => (outcome.ok ? percentile(done, p) : Number.NaN);
  const seconds = { p50: at(50), p95: at(95), p99: at(99), p999: at(99.9), allDone: at(100) };
  return {
    nodes: config.nodes,
    policy: config.policy,
    ok: outcome.ok,
    finishedNodes: done.filter((t) => Number.isFinite(t)).length,
    ...(outcome.error === undefined ? {} : { error: outcome.error }),
    allDoneSeconds: seconds.allDone,
    p50Seconds: seconds.p50,
    p95Seconds: seconds.p95,
    p99Seconds: seconds.p99,
    p999Seconds: seconds.p999,
    ratios: {
      p50: seconds.p50 / ideal,
      p95: seconds.p95 / ideal,
      p99: seconds.p99 / ideal,
      p999: seconds.p999 / ideal,
      allDone: seconds.allDone / ideal,
      fastest: Math.min(...done) / ideal,
    },
    originEgressBytes: outcome.originEgressBytes,
    seedEgressBytes: outcome.seedEgressBytes,
    bytesSent: outcome.bytesSent,
    bytesReceived: outcome.bytesReceived,
    pieceLengths: outcome.pieceLengths,
    scheduler: {
      cpuMs: outcome.schedulerCpuMs,
      calls: outcome.schedulerCalls,
      cpuMsPerPeer: outcome.schedulerCpuMs / config.nodes,
      heapBytesPerPeer,
    },
    simulatedSeconds: outcome.simulatedSeconds,
    steps: outcome.steps,
    wallSeconds: outcome.wallSeconds,
    cpuSeconds: outcome.cpuSeconds,
    nodeResults: outcome.nodes,
  };
}

export function buildSimResults(input: { machine: MachineInfo; options: SimOptions; runs: SimRunResult[]; date?: Date }): SimResults {
  const { nodes: _nodes, policy: _policy, ...config } = input.options.runs[0]!;
  const imageBytes = config.layerSizes.reduce((a, b) => a + b, 0);
  const idealSeconds = imageBytes / config.linkRate;
  const first = input.runs.filter((run) => run.policy === input.options.policies[0]);
  const last = first.reduce((a, b) => (b.nodes > a.nodes ? b : a));
  return {
    kind: 'sim',
    date: (input.date ?? new Date()).toISOString(),
    machine: input.machine,
    preset: input.options.preset,
    config,
    policies: input.options.policies,
    imageBytes,
    linkBytesPerSecond: config.linkRate,
    idealSeconds,
    runs: input.runs,
    modes: {
      p2p: {
        ok: last.ok,
        allDoneSeconds: last.allDoneSeconds,
        p50Seconds: last.p50Seconds,
        p95Seconds: last.p95Seconds,
        originEgressBytes: last.originEgressBytes,
        nodes: last.nodeResults,
      },
    },
    goals: input.runs.flatMap((run) => checkGoals(run, imageBytes, input.options.preset === 'kraken')),
    allOk: input.runs.every((run) => run.ok),
  };
}

/** p99 ÷ S/B ≤ 1.3 (the goal for the Kraken test), with Kraken's own figures beside it under the preset. */
function checkGoals(run: SimRunResult, imageBytes: number, kraken: boolean): GoalCheck[] {
  const label = `${run.policy}, N = ${run.nodes}:`;
  const checks: GoalCheck[] = [
    { measure: `${label} p99 ÷ S/B`, value: run.ratios.p99, goal: `≤ ${P99_GOAL}`, met: run.ratios.p99 <= P99_GOAL },
    { measure: `${label} origin egress ÷ S`, value: run.originEgressBytes / imageBytes, goal: '(context)', met: null },
  ];
  if (kraken) {
    // Kraken published one decimal: compare at that precision.
    for (const [key, name] of [['p50', 'p50'], ['p99', 'p99'], ['p999', 'p99.9']] as const) {
      const value = run.ratios[key];
      checks.push({ measure: `${label} ${name} ÷ S/B against Kraken's`, value, goal: `≤ ${KRAKEN_PUBLISHED[key].toFixed(1)} (Kraken)`, met: Number(value.toFixed(1)) <= KRAKEN_PUBLISHED[key] });
    }
  }
  return checks;
}
