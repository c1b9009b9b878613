import { Agent, request } from 'node:http';
import { DEFAULT_MANIFEST_ACCEPT } from '@flotilla/oci';
import type { Cleanup } from '../common/cleanup.ts';
import { attempt, type Failure } from './failure.ts';
import { cpuDuring } from '../common/proc.ts';
import { directTarget, startDaemonTarget, startProxyTarget, TAG, type Origin, type PullTarget, type TargetName } from './setup.ts';
import { percentile } from '../common/stats.ts';

export interface LatencyPlan {
  warmup: number;
  count: number;
}

/** Manifest HEAD-by-tag latency through one target. */
export interface LatencyRun {
  target: TargetName;
  count: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Measured requests that had to open a connection (0 when keep-alive held). */
  newConnections: number;
  /** Measured requests whose answer was not 200 with the manifest's Docker-Content-Digest. */
  wrongAnswers: number;
  /** Requests that got no answer at all; they are left out of the percentiles. */
  failures: Failure[];
  cpu: Record<string, number>;
}

const HEAD_TIMEOUT_MS = 10_000;
/** A target that fails this many HEADs is not measured further (bounds the run when a mirror is down or hung). */
const MAX_FAILURES = 5;

/** Sequential HEADs of `bench:v1` over one keep-alive connection per target: direct, registry proxy, daemon. */
export async function measureHeadLatency(
  cleanup: Cleanup,
  origin: Origin,
  plan: LatencyPlan,
  progress: (line: string) => void,
): Promise<LatencyRun[]> {
  const targets = [directTarget(origin), await startProxyTarget(cleanup, origin), await startDaemonTarget(cleanup, origin)];
  try {
    const runs: LatencyRun[] = [];
    for (const target of targets) {
      const run = await headRun(target, origin.manifestDigest, plan);
      progress(`HEAD ${run.target}: p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms`);
      runs.push(run);
    }
    return runs;
  } finally {
    for (const target of targets) await target.stop();
  }
}

async function headRun(target: PullTarget, manifestDigest: string, plan: LatencyPlan): Promise<LatencyRun> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const url = target.manifestUrl(TAG);
  const failures: Failure[] = [];
  const headOnce = (what: string) => attempt(what, target, failures, () => head(agent, url));
  try {
    for (let i = 0; i < plan.warmup && failures.length < MAX_FAILURES; i++) {
      await headOnce(`HEAD ${target.name} warm-up #${i + 1}`);
    }
    const { result: answers, cpu } = await cpuDuring(target.pids, async () => {
      const answers: HeadAnswer[] = [];
      for (let i = 0; i < plan.count && failures.length < MAX_FAILURES; i++) {
        const answer = await headOnce(`HEAD ${target.name} #${i + 1}`);
        if (answer) answers.push(answer);
      }
      return answers;
    });
    const millis = answers.map((a) => a.ms);
    return {
      target: target.name,
      count: answers.length,
      p50Ms: percentile(millis, 50),
      p99Ms: percentile(millis, 99),
      maxMs: Math.max(...millis),
      newConnections: answers.filter((a) => !a.reusedSocket).length,
      wrongAnswers: answers.filter((a) => a.status !== 200 || a.digest !== manifestDigest).length,
      failures,
      cpu,
    };
  } finally {
    agent.destroy();
  }
}

interface HeadAnswer {
  ms: number;
  status: number;
  digest: string | undefined;
  reusedSocket: boolean;
}

/** One HEAD, timed from the request call to the end of the response. */
function head(agent: Agent, url: string): Promise<HeadAnswer> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = request(url, { method: 'HEAD', agent, headers: { accept: DEFAULT_MANIFEST_ACCEPT } }, (res) => {
      res.resume();
      res.once('end', () => {
        const digest = res.headers['docker-content-digest'];
        resolve({
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          status: res.statusCode ?? 0,
          digest: typeof digest === 'string' ? digest : undefined,
          reusedSocket: req.reusedSocket,
        });
      });
    });
    req.setTimeout(HEAD_TIMEOUT_MS, () => req.destroy(new Error(`HEAD ${url}: no answer within ${HEAD_TIMEOUT_MS} ms`)));
    req.once('error', reject);
    req.end();
  });
}
