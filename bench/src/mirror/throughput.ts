import type { Cleanup } from '../common/cleanup.ts';
import { timedPull, verifiedPull, type TimedPull, type Verification } from './curl.ts';
import { attempt, type Failure } from './failure.ts';
import { cpuDuring } from '../common/proc.ts';
import { directTarget, startDaemonTarget, startProxyTarget, type Origin, type PullTarget } from './setup.ts';

export const MODES = ['direct', 'proxy cold', 'proxy warm', 'daemon cold', 'daemon warm'] as const;
export type Mode = (typeof MODES)[number];

/** One timed pull, with the CPU seconds each server process on the path used meanwhile. */
export interface PullSample extends TimedPull {
  cpu: Record<string, number>;
}

/** Every pull of one mode: the timed repetitions, the digest-checked ones, and those that failed. */
export interface ModeRuns {
  mode: Mode;
  runs: PullSample[];
  verifications: Verification[];
  failures: Failure[];
}

type PullRecorder = (mode: Mode, target: PullTarget) => Promise<void>;

/**
 * Pulls the blob in every mode: one digest-checked round first (it also warms the origin's page cache the same way
 * for everyone), then `repeat` timed rounds. Rounds interleave the modes so drift on the machine hits all of them.
 * Cached modes get a fresh mirror per round: the first pull is cold, the second (once stored) warm.
 */
export async function measureThroughput(
  cleanup: Cleanup,
  origin: Origin,
  repeat: number,
  progress: (line: string) => void,
): Promise<ModeRuns[]> {
  const results = new Map<Mode, ModeRuns>(MODES.map((mode) => [mode, { mode, runs: [], verifications: [], failures: [] }]));
  const url = (target: PullTarget) => target.blobUrl(origin.blob.digest);

  const failuresOf = (mode: Mode) => results.get(mode)!.failures;
  await round(cleanup, origin, failuresOf, async (mode, target) => {
    const modeRuns = results.get(mode)!;
    const verification = await attempt(`verify ${mode}`, target, modeRuns.failures, () => verifiedPull(url(target), origin.blob));
    if (verification) modeRuns.verifications.push(verification);
    progress(`verify ${mode}: ${describeVerification(verification)}`);
  });
  for (let i = 1; i <= repeat; i++) {
    await round(cleanup, origin, failuresOf, async (mode, target) => {
      const modeRuns = results.get(mode)!;
      const sample = await attempt(`#${i} ${mode}`, target, modeRuns.failures, async () => {
        const { result, cpu } = await cpuDuring(target.pids, () => timedPull(url(target), origin.blob));
        return { ...result, cpu };
      });
      if (sample) modeRuns.runs.push(sample);
      progress(`#${i} ${mode}: ${sample ? `${(sample.bytes / sample.seconds / 1e9).toFixed(2)} GB/s` : 'FAILED'}`);
    });
  }
  return [...results.values()];
}

function describeVerification(v: Verification | undefined): string {
  if (!v) return 'FAILED';
  return v.ok ? 'digest ok' : `WRONG CONTENT (${v.bytes} bytes, ${v.digest})`;
}

async function round(
  cleanup: Cleanup,
  origin: Origin,
  failuresOf: (mode: Mode) => Failure[],
  record: PullRecorder,
): Promise<void> {
  await record('direct', directTarget(origin));
  const mirrors = [
    ['proxy', startProxyTarget],
    ['daemon', startDaemonTarget],
  ] as const;
  for (const [name, start] of mirrors) {
    const target = await start(cleanup, origin);
    try {
      await record(`${name} cold`, target);
      const warm = `${name} warm` as const;
      const stored = await attempt(`${warm}: the cold pull stored`, target, failuresOf(warm), () =>
        target.waitCached(origin.blob).then(() => true),
      );
      if (stored) await record(warm, target);
    } finally {
      await target.stop();
    }
  }
}
