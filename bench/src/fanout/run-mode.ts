import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from '@flotilla/test';
import { Cleanup } from '../common/cleanup.ts';
import { percentile } from '../common/stats.ts';
import { startCentral, startDirect } from './baseline-modes.ts';
import type { NodePull } from './client.ts';
import { startCpuMeter, waitForQuietMachine, type CpuUse } from './cpu.ts';
import type { BenchImage } from './image.ts';
import type { LinkEmulation } from './links.ts';
import { startNodeClients, type NodeClients } from './node-clients.ts';
import type { ClientKind, ModeName } from './options.ts';
import { startP2PDht } from './p2p-dht-mode.ts';
import { startP2P } from './p2p-mode.ts';
import { startProgress } from './progress.ts';
import { outputTail, type ByteSources, type Topology, type TopologyContext } from './topology.ts';

const START: Record<ModeName, (ctx: TopologyContext) => Promise<Topology>> = {
  direct: startDirect,
  central: startCentral,
  p2p: startP2P,
  'p2p-dht': startP2PDht,
};

export type NodeResult = NodePull & ByteSources;

/** Before the clock starts, wait up to this long for a second with less than this share of the cores busy. */
const QUIET_SHARE = 0.3;
const QUIET_WAIT_MS = 15_000;

/** One run of one mode: the figures when every node got the image intact, else what went wrong. */
export interface ModeRun {
  ok: boolean;
  /** Why the run failed (a wrong digest, an HTTP error, the timeout), with the servers' last output. */
  error?: string;
  timeoutSeconds: number;
  allDoneSeconds: number;
  p50Seconds: number;
  p95Seconds: number;
  originEgressBytes: number;
  /** In node order; empty when the run failed. */
  nodes: NodeResult[];
  /** Missing when the mode's processes did not start. */
  cpu?: CpuUse;
}

export interface ModeContext {
  /** The bench's cleanup stack: the mode's processes are on it until the mode is over, so Ctrl-C stops them. */
  cleanup: Cleanup;
  origin: Registry;
  image: BenchImage;
  nodes: number;
  linkRate: number;
  link: LinkEmulation;
  client: ClientKind;
  /** Where every server's output is saved (`daemon-3.log`), for reading after the run. */
  logDir: string;
  killSchedulerAtPercent?: number;
}

/**
 * How long a mode may take before it is reported as failed instead of hanging: a minute of slack plus a multiple
 * of its physical floor. p2p's floor is S/B; direct and central share one server uplink, so theirs is N·S/B, and
 * so is p2p-dht's when nodes that start together all miss in the DHT and go to the origin.
 */
export function modeTimeoutSeconds(mode: ModeName, nodes: number, idealSeconds: number): number {
  return 60 + (mode === 'p2p' ? 10 * idealSeconds : 2 * nodes * idealSeconds);
}

/** Starts the mode's processes, has every node pull the image at once, measures, and stops everything. */
export async function runMode(mode: ModeName, label: string, ctx: ModeContext): Promise<ModeRun> {
  const scope = new Cleanup();
  const stopScope = ctx.cleanup.add(() => scope.run());
  const timeoutSeconds = modeTimeoutSeconds(mode, ctx.nodes, ctx.image.bytes / ctx.linkRate);
  try {
    let topology: Topology;
    let clients: NodeClients;
    try {
      const { origin, image, nodes, link, killSchedulerAtPercent } = ctx;
      const started = await START[mode]({ scope, origin, image, nodes, link, ...(killSchedulerAtPercent === undefined ? {} : { killSchedulerAtPercent }) });
      clients = await startNodeClients(ctx.client, { scope, link: ctx.link, image: ctx.image, endpoints: started.endpoints });
      // The clients' processes are measured and logged with the servers'.
      topology = { ...started, roles: { ...started.roles, ...clients.roles }, services: { ...started.services, ...clients.services } };
    } catch (err) {
      return failedRun(`could not start the ${mode} setup: ${(err as Error).message}`, { timeoutSeconds, originEgressBytes: 0 });
    }
    try {
      return await measure(topology, clients, timeoutSeconds, label, ctx);
    } finally {
      await saveOutputs(topology, ctx.logDir);
    }
  } finally {
    await stopScope();
  }
}

async function measure(topology: Topology, clients: NodeClients, timeoutSeconds: number, label: string, ctx: ModeContext): Promise<ModeRun> {
  const abort = new AbortController();
  let failure: Error | undefined;
  const fail = (err: Error) => {
    failure ??= err;
    abort.abort(err);
  };
  const state = { receivedBytes: 0, nodesDone: 0, originBytes: 0 };
  const busyBeforeStart = await waitForQuietMachine(QUIET_SHARE, QUIET_WAIT_MS);
  const meter = await startCpuMeter(topology.roles, busyBeforeStart, clients.finishedChildrenRole);
  const progress = startProgress(label, { nodes: ctx.nodes, bytes: ctx.nodes * ctx.image.bytes }, state, topology.originEgressBytes);
  const timer = setTimeout(() => fail(new Error(`timed out after ${timeoutSeconds.toFixed(0)} s`)), timeoutSeconds * 1000);
  const startedAt = performance.now();
  const pulls = await Promise.allSettled(
    topology.endpoints.map(async (_, index) => {
      try {
        const pull = await clients.pull(index, {
          startedAt,
          signal: abort.signal,
          onBytes: (bytes) => {
            state.receivedBytes += bytes;
            topology.onDelivered?.(state.receivedBytes / (ctx.nodes * ctx.image.bytes));
          },
        });
        state.nodesDone++;
        return pull;
      } catch (err) {
        fail(new Error(`node ${index}: ${(err as Error).message}`));
        throw err;
      }
    }),
  );
  clearTimeout(timer);
  const cpu = await meter.stop();
  const originEgressBytes = await topology.originEgressBytes();
  state.originBytes = originEgressBytes;
  progress.stop();
  const base = { timeoutSeconds, originEgressBytes, cpu };
  if (failure) return failedRun(`${failure.message} (${state.nodesDone}/${ctx.nodes} nodes done)\n${lastLines(topology)}`, base);
  let nodes: NodeResult[];
  try {
    nodes = await Promise.all(
      pulls.map(async (pull, index) => ({ ...(pull as PromiseFulfilledResult<NodePull>).value, ...(await topology.sources(index)) })),
    );
  } catch (err) {
    return failedRun(`${(err as Error).message}\n${lastLines(topology)}`, base);
  }
  const done = nodes.map((node) => node.doneSeconds);
  return {
    ...base,
    ok: true,
    allDoneSeconds: Math.max(...done),
    p50Seconds: percentile(done, 50),
    p95Seconds: percentile(done, 95),
    nodes,
  };
}

function failedRun(error: string, base: Pick<ModeRun, 'timeoutSeconds' | 'originEgressBytes' | 'cpu'>): ModeRun {
  return { ...base, ok: false, error, allDoneSeconds: Number.NaN, p50Seconds: Number.NaN, p95Seconds: Number.NaN, nodes: [] };
}

/** A few last lines of every server, for a failure message. */
function lastLines(topology: Topology): string {
  return Object.entries(topology.services).map(([name, service]) => outputTail(name, service, 4)).join('\n');
}

async function saveOutputs(topology: Topology, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await Promise.all(Object.entries(topology.services).map(([name, service]) => writeFile(join(dir, `${name}.log`), service.output())));
}
