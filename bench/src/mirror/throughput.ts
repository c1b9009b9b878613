import type { Cleanup } from './cleanup.ts';
import { timedPull, verifiedPull, type TimedPull, type Verification } from './curl.ts';
import { cpuDuring } from './proc.ts';
import { directTarget, startDaemonTarget, startProxyTarget, type Origin, type PullTarget } from './setup.ts';

export const MODES = ['direct', 'proxy cold', 'proxy warm', 'daemon cold', 'daemon warm'] as const;
export type Mode = (typeof MODES)[number];

/** One timed pull, with the CPU seconds each server process on the path used meanwhile. */
export interface PullSample extends TimedPull {
  cpu: Record<string, number>;
}

/** Every pull of one mode: the timed repetitions and the digest-checked ones. */
export interface ModeRuns {
  mode: Mode;
  runs: PullSample[];
  verifications: Verification[];
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
  const results = new Map<Mode, ModeRuns>(MODES.map((mode) => [mode, { mode, runs: [], verifications: [] }]));
  const url = (target: PullTarget) => target.blobUrl(origin.blob.digest);

  await round(cleanup, origin, async (mode, target) => {
    const verification = await verifiedPull(url(target), origin.blob);
    results.get(mode)!.verifications.push(verification);
    progress(`verify ${mode}: ${verification.ok ? 'digest ok' : `WRONG CONTENT (${verification.bytes} bytes, ${verification.digest})`}`);
  });
  for (let i = 1; i <= repeat; i++) {
    await round(cleanup, origin, async (mode, target) => {
      const { result, cpu } = await cpuDuring(target.pids, () => timedPull(url(target)));
      results.get(mode)!.runs.push({ ...result, cpu });
      progress(`#${i} ${mode}: ${(result.bytes / result.seconds / 1e9).toFixed(2)} GB/s`);
    });
  }
  return [...results.values()];
}

async function round(cleanup: Cleanup, origin: Origin, record: PullRecorder): Promise<void> {
  await record('direct', directTarget(origin));
  const mirrors = [
    ['proxy', startProxyTarget],
    ['daemon', startDaemonTarget],
  ] as const;
  for (const [name, start] of mirrors) {
    const target = await start(cleanup, origin);
    try {
      await record(`${name} cold`, target);
      await target.waitCached(origin.blob);
      await record(`${name} warm`, target);
    } finally {
      await target.stop();
    }
  }
}
