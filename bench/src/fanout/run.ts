import { join } from 'node:path';
import { startRegistry } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import { describeMachine } from '../common/machine.ts';
import { writeOutputFiles } from '../common/output-files.ts';
import { bytesBySourceSvg, completionCdfSvg } from './charts.ts';
import { startLinkEmulation } from './links.ts';
import { pushBenchImage } from './image.ts';
import type { FanoutOptions, ModeName } from './options.ts';
import { renderReport } from './report.ts';
import { buildResults, type FanoutResults } from './results.ts';
import { modeTimeoutSeconds, runMode, type ModeRun } from './run-mode.ts';

/**
 * Pushes the image to one origin, then runs every mode (fresh processes each time; repetitions interleave the
 * modes so slow drift on the machine does not favour one) and gathers the results.
 */
export async function runFanoutBench(options: FanoutOptions, cleanup: Cleanup, progress: (line: string) => void): Promise<FanoutResults> {
  const machine = await describeMachine();
  const link = await startLinkEmulation(options, cleanup);
  if (link.kind === 'netns') progress(`network: the origin on ${link.origin.ip}, the seed on ${link.seed.ip}, nodes from ${link.node(0).ip}, each in its own namespace, shaped by tc`);
  const origin = await cleanup.start(startRegistry({ accessLog: false }));
  progress(`pushing a ${options.layerSizes.length}-layer image of ${(sum(options.layerSizes) / 1e6).toFixed(1)} MB to the origin ${origin.host}`);
  const image = await pushBenchImage(origin, options.layerSizes);
  const ideal = image.bytes / options.linkRate;
  progress(`S = ${image.bytes} bytes, B = ${options.linkRate} B/s: ideal S/B = ${ideal.toFixed(2)} s`);
  const runs: Partial<Record<ModeName, ModeRun[]>> = {};
  for (let repetition = 1; repetition <= options.repeat; repetition++) {
    for (const mode of options.modes) {
      const label = options.repeat > 1 ? `${mode} ${repetition}/${options.repeat}` : mode;
      progress(`${label}: starting ${options.nodes} nodes (fails after ${modeTimeoutSeconds(mode, options.nodes, ideal).toFixed(0)} s)`);
      const logDir = join(options.outDir, 'logs', options.repeat > 1 ? `${mode}-${repetition}` : mode);
      const kill = options.killSchedulerAtPercent === undefined ? {} : { killSchedulerAtPercent: options.killSchedulerAtPercent };
      const run = await runMode(mode, label, { cleanup, origin, image, nodes: options.nodes, linkRate: options.linkRate, link, client: options.client, logDir, ...kill });
      progress(
        run.ok
          ? `${label}: every node done in ${run.allDoneSeconds.toFixed(2)} s (${(run.allDoneSeconds / ideal).toFixed(2)}× S/B), origin sent ${(run.originEgressBytes / image.bytes).toFixed(3)}× S`
          : `${label}: FAILED: ${run.error?.split('\n')[0]}`,
      );
      (runs[mode] ??= []).push(run);
    }
  }
  return buildResults({ machine, options, imageBytes: image.bytes, modes: runs });
}

/** Writes results.json, report.md, completion-cdf.svg and bytes-by-source.svg; returns their paths. */
export async function writeFanoutOutputs(results: FanoutResults, outDir: string): Promise<string[]> {
  const modes = Object.entries(results.modes);
  const files: Record<string, string> = {
    'results.json': `${JSON.stringify(results, null, 2)}\n`,
    'report.md': renderReport(results),
    'completion-cdf.svg': completionCdfSvg(
      modes.filter(([, m]) => m.ok).map(([mode, m]) => ({ mode, doneSeconds: m.nodes.map((n) => n.doneSeconds) })),
      results.idealSeconds,
    ),
    'bytes-by-source.svg': bytesBySourceSvg(modes.map(([mode, m]) => ({ mode, nodes: m.nodes })), results.imageBytes),
  };
  return writeOutputFiles(outDir, files);
}

function sum(values: number[]): number {
  return values.reduce((total, v) => total + v, 0);
}
