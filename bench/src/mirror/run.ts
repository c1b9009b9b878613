import { loadavg } from 'node:os';
import type { Cleanup } from '../common/cleanup.ts';
import { measureHeadLatency } from './latency.ts';
import { describeMachine } from '../common/machine.ts';
import { measureDaemonMemory } from './memory.ts';
import { formatSize, type BenchOptions } from './options.ts';
import { buildReport, type MirrorReport } from './report.ts';
import { startOrigin } from './setup.ts';
import { measureThroughput } from './throughput.ts';

/** Fixed parts of the plan (the brief's numbers); the sizes and repetitions come from the flags. */
const LATENCY_PLAN = { warmup: 20, count: 300 };
const MEMORY_PLAN = { clients: 3, sampleIntervalMs: 50 };

/** Runs every measurement against one origin; everything started is registered with `cleanup`. */
export async function runMirrorBench(
  options: BenchOptions,
  cleanup: Cleanup,
  progress: (line: string) => void,
): Promise<MirrorReport> {
  const loadAtStart = loadavg();
  const machine = await describeMachine();
  progress(`pushing bench:v1 (random layers of ${formatSize(options.size)} and ${formatSize(options.memSize)}) to a fresh origin`);
  const origin = await startOrigin(cleanup, options);
  progress(`origin ${origin.registry.url}, blob ${origin.blob.digest}`);
  const throughput = await measureThroughput(cleanup, origin, options.repeat, progress);
  const latency = await measureHeadLatency(cleanup, origin, LATENCY_PLAN, progress);
  const memory = await measureDaemonMemory(cleanup, origin, MEMORY_PLAN, progress);
  const { size, repeat, memSize } = options;
  return buildReport({
    machine,
    options: { size, repeat, memSize, ...LATENCY_PLAN, ...MEMORY_PLAN },
    throughput,
    latency,
    memory,
    load: { start: loadAtStart, end: loadavg() },
  });
}
