import type { Cleanup } from '../common/cleanup.ts';
import { hashedPull, timedPull, verifiedPull, type BlobRef, type TimedPull, type Verification } from './curl.ts';
import { attempt, type Failure } from './failure.ts';
import { cpuDuring } from '../common/proc.ts';
import { directTarget, startDaemonTarget, startProxyTarget, startRelayTarget, type Origin, type PullTarget } from './setup.ts';

/**
 * `direct + sha256` (curl piped into openssl) and `relay` (a zero-work TCP relay in between) are the ceilings a
 * verifying mirror is held against: what hashing the stream costs, and what one more process on the path costs.
 */
export const MODES = ['direct', 'direct + sha256', 'relay', 'proxy cold', 'proxy warm', 'daemon cold', 'daemon warm'] as const;
export type Mode = (typeof MODES)[number];

/** The mode that hashes on the client side times (and checks) its pulls with the hashing pipeline. */
function timedPullFor(mode: Mode): (url: string, expected: BlobRef) => Promise<TimedPull> {
  return mode === 'direct + sha256' ? hashedPull : timedPull;
}

function verifiedPullFor(mode: Mode): (url: string, expected: BlobRef) => Promise<Verification> {
  if (mode !== 'direct + sha256') return verifiedPull;
  return async (url, expected) => ({ url, ok: true, bytes: (await hashedPull(url, expected)).bytes, digest: expected.digest });
}

/** One timed pull, with the CPU seconds each server process on the path used meanwhile. */
export interface PullSample extends TimedPull {
  cpu: Record<string, number>;
}

/** Every pull of one mode: the timed repetitions, the digest-checked ones, and those that failed. */
export interface ModeRuns {
  mode: Mode;
  runs: PullSample[];
  /**
   * Cold modes: CPU seconds per process from the start of each timed cold pull until the mirror had stored the
   * blob. A mirror that checks the digest only after the client has its bytes (docker-registry's proxy) pays here.
   */
  storedCpu: Array<Record<string, number>>;
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
  const results = new Map<Mode, ModeRuns>(MODES.map((mode) => [mode, { mode, runs: [], storedCpu: [], verifications: [], failures: [] }]));
  const url = (target: PullTarget) => target.blobUrl(origin.blob.digest);

  const failuresOf = (mode: Mode) => results.get(mode)!.failures;
  await round(cleanup, origin, failuresOf, async (mode, target) => {
    const modeRuns = results.get(mode)!;
    const verification = await attempt(`verify ${mode}`, target, modeRuns.failures, () => verifiedPullFor(mode)(url(target), origin.blob));
    if (verification) modeRuns.verifications.push(verification);
    progress(`verify ${mode}: ${describeVerification(verification)}`);
  });
  for (let i = 1; i <= repeat; i++) {
    await round(cleanup, origin, failuresOf, async (mode, target) => {
      const modeRuns = results.get(mode)!;
      const sample = await attempt(`#${i} ${mode}`, target, modeRuns.failures, async () => {
        const { result, cpu } = await cpuDuring(target.pids, () => timedPullFor(mode)(url(target), origin.blob));
        return { ...result, cpu };
      });
      if (sample) modeRuns.runs.push(sample);
      progress(`#${i} ${mode}: ${sample ? `${(sample.bytes / sample.seconds / 1e9).toFixed(2)} GB/s` : 'FAILED'}`);
    }, (mode, cpu) => results.get(mode)!.storedCpu.push(cpu));
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
  onStored?: (mode: Mode, cpu: Record<string, number>) => void,
): Promise<void> {
  const direct = directTarget(origin);
  await record('direct', direct);
  await record('direct + sha256', direct);
  const relay = await startRelayTarget(cleanup, origin);
  try {
    await record('relay', relay);
  } finally {
    await relay.stop();
  }
  const mirrors = [
    ['proxy', startProxyTarget],
    ['daemon', startDaemonTarget],
  ] as const;
  for (const [name, start] of mirrors) {
    const target = await start(cleanup, origin);
    try {
      const cold = `${name} cold` as const;
      const warm = `${name} warm` as const;
      const { result: stored, cpu } = await cpuDuring(target.pids, async () => {
        await record(cold, target);
        return attempt(`${warm}: the cold pull stored`, target, failuresOf(warm), () => target.waitCached(origin.blob).then(() => true));
      });
      if (!stored) continue;
      onStored?.(cold, cpu);
      await record(warm, target);
    } finally {
      await target.stop();
    }
  }
}
