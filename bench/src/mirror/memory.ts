import type { Cleanup } from '../common/cleanup.ts';
import { verifiedPull, type Verification } from './curl.ts';
import { attempt, type Failure } from './failure.ts';
import { cpuDuring, peakRssBytes, resetPeakRss, sampleRss } from '../common/proc.ts';
import { startDaemonTarget, type Origin } from './setup.ts';

export interface MemoryPlan {
  clients: number;
  sampleIntervalMs: number;
}

/** The daemon's memory while several clients pull one large blob through it cold. */
export interface MemoryRun {
  clients: number;
  blobBytes: number;
  seconds: number;
  /** RSS before the first request. */
  idleRssBytes: number;
  /** Highest sampled VmRSS: the figure held against the goal. */
  peakRssBytes: number;
  /** The kernel's high-water mark (VmHWM) as a cross-check of the sampling, over the span `kernelPeakSince` names. */
  kernelPeakRssBytes: number;
  kernelPeakSince: 'first request' | 'daemon start';
  samples: number;
  maxSampleGapMs: number;
  cpu: Record<string, number>;
  verifications: Verification[];
  failures: Failure[];
}

/** Starts a fresh daemon and lets `clients` curl processes pull the memory blob at once, sampling its RSS. */
export async function measureDaemonMemory(
  cleanup: Cleanup,
  origin: Origin,
  plan: MemoryPlan,
  progress: (line: string) => void,
): Promise<MemoryRun> {
  const target = await startDaemonTarget(cleanup, origin);
  try {
    const pid = target.pids['daemon']!;
    const peakReset = await resetPeakRss(pid);
    const sampler = sampleRss(pid, plan.sampleIntervalMs);
    const started = performance.now();
    const url = target.blobUrl(origin.memBlob.digest);
    const failures: Failure[] = [];
    const pull = (client: number) => attempt(`memory client ${client}`, target, failures, () => verifiedPull(url, origin.memBlob));
    const pulled = await cpuDuring(target.pids, () => Promise.all(Array.from({ length: plan.clients }, (_, i) => pull(i + 1))));
    const rss = await sampler.stop();
    const kernelPeak = await peakRssBytes(pid);
    const run: MemoryRun = {
      clients: plan.clients,
      blobBytes: origin.memBlob.size,
      seconds: (performance.now() - started) / 1000,
      idleRssBytes: rss.firstBytes,
      peakRssBytes: rss.peakBytes,
      kernelPeakRssBytes: kernelPeak,
      kernelPeakSince: peakReset ? 'first request' : 'daemon start',
      samples: rss.samples,
      maxSampleGapMs: rss.maxGapMs,
      cpu: pulled.cpu,
      verifications: pulled.result.filter((v) => v !== undefined),
      failures,
    };
    const okCount = run.verifications.filter((v) => v.ok).length;
    progress(`memory: peak RSS ${(run.peakRssBytes / 2 ** 20).toFixed(0)} MiB, ${okCount}/${run.clients} digests ok`);
    return run;
  } finally {
    await target.stop();
  }
}
