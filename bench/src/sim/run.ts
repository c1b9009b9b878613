import { describeMachine } from '../common/machine.ts';
import { writeOutputFiles } from '../common/output-files.ts';
import { runSimulation } from './engine.ts';
import type { SimOptions } from './options.ts';
import { simBytesBySourceSvg, simCompletionCdfSvg, sweepSvg } from './charts.ts';
import { renderSimReport } from './report.ts';
import { buildSimResults, summarizeRun, type SimResults, type SimRunResult } from './results.ts';
import { schedulerBytesPerPeer } from './scheduler-memory.ts';

/** Runs the simulation once per node count, smallest first, and gathers the results. */
export async function runSimBench(options: SimOptions, progress: (line: string) => void): Promise<SimResults> {
  const machine = await describeMachine();
  const runs: SimRunResult[] = [];
  // Smallest first within each policy: a sweep shows its cheap figures before its long runs.
  for (const config of [...options.runs].sort((a, b) => options.policies.indexOf(a.policy) - options.policies.indexOf(b.policy) || a.nodes - b.nodes)) {
    const ideal = config.layerSizes.reduce((a, b) => a + b, 0) / config.linkRate;
    const label = `${config.policy}, N = ${config.nodes}`;
    progress(`${label}: simulating (S/B = ${ideal.toFixed(2)} s, gives up after ${config.timeLimitSeconds.toFixed(0)} simulated s)`);
    const outcome = runSimulation(config, (line) => progress(`${label}: ${line}`));
    const pieceCounts = config.layerSizes.map((size, i) => Math.ceil(size / outcome.pieceLengths[i]!));
    const run = summarizeRun(config, outcome, schedulerBytesPerPeer(config.nodes, pieceCounts, config.parents));
    progress(
      run.ok
        ? `${label}: p50 ${run.ratios.p50.toFixed(2)}×, p99 ${run.ratios.p99.toFixed(2)}×, p99.9 ${run.ratios.p999.toFixed(2)}×, slowest ${run.ratios.allDone.toFixed(2)}× S/B; origin sent ${(run.originEgressBytes / outcome.imageBytes).toFixed(3)}× S; ${run.wallSeconds.toFixed(1)} s wall`
        : `${label}: FAILED: ${run.error}`,
    );
    runs.push(run);
  }
  return buildSimResults({ machine, options, runs });
}

/** Writes results.json, report.md, completion-cdf.svg, bytes-by-source.svg and (for a sweep) sweep.svg. */
export async function writeSimOutputs(results: SimResults, outDir: string): Promise<string[]> {
  const files: Record<string, string> = {
    'results.json': `${JSON.stringify(results, null, 2)}\n`,
    'report.md': renderSimReport(results),
    'completion-cdf.svg': simCompletionCdfSvg(results.runs, results.idealSeconds),
    'bytes-by-source.svg': simBytesBySourceSvg(results.runs, results.imageBytes),
    ...(new Set(results.runs.map((run) => run.nodes)).size > 1 ? { 'sweep.svg': sweepSvg(results.runs, results.imageBytes) } : {}),
  };
  return writeOutputFiles(outDir, files);
}
