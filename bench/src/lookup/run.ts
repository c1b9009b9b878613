import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pushBlob, registryRequests, startRegistry, waitFor, type DaemonLogLine, type Registry } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import { describeMachine, type MachineInfo } from '../common/machine.ts';
import { percentile } from '../common/stats.ts';
import { inBatches, STARTING_AT_ONCE, startSwarmDaemon, waitForLog, type SwarmDaemon } from '../fanout/swarm-daemons.ts';
import type { LookupOptions } from './options.ts';

const REPO = 'bench/lookup';
/** The daemons' default --dht-lookup-timeout: the share of lookups that would have made it in time. */
const DEFAULT_DEADLINE_MS = 100;
/** How long a holder may take to put its provider record in the DHT before the rounds start. */
const PROVIDE_TIMEOUT_MS = 30_000;

export interface LookupResults {
  machine: MachineInfo;
  daemons: number;
  rounds: number;
  blobBytes: number;
  lookupTimeoutMs: number;
  lookups: number;
  /** Lookups that found no provider in time (the daemon then went to the origin). */
  misses: number;
  /** Until the first usable provider, per lookup that found one (ms). */
  firstProviderMs: { p50: number; p90: number; p99: number; max: number };
  /** The whole lookup (it goes on briefly to find more providers), ms. */
  lookupMs: { p50: number; p90: number; p99: number; max: number };
  /** Share of lookups whose first provider came within the default 100 ms deadline. */
  withinDefaultDeadline: number;
  /** Blob pulls from a client's view: lookup + meta + pieces, ms. */
  pullMs: { p50: number; p99: number };
  /** Blob GETs the origin answered during the rounds (0 when every lookup found its provider). */
  originBlobGets: number;
}

/**
 * N daemons, no scheduler, bootstrapped through the first two: daemon i pulls blob i from the origin and provides
 * it. Then, round by round, every daemon at once pulls a blob some other daemon holds, which starts a provider
 * lookup in its DHT; the daemons log each lookup's timings (debug level).
 */
export async function runLookupBench(options: LookupOptions, cleanup: Cleanup, progress: (line: string) => void): Promise<LookupResults> {
  const machine = await describeMachine();
  // Not through cleanup.start: its wrapper is not the object registryRequests knows.
  const origin = await startRegistry({ accessLog: true });
  cleanup.add(() => origin.stop());
  const digests: string[] = [];
  for (let i = 0; i < options.daemons; i++) digests.push(await pushBlob(origin, REPO, randomBytes(options.blobSize)));
  const common = [
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0',
    '--insecure-registry', origin.host,
    '--default-registry', origin.host,
    '--dht-lookup-timeout', `${options.lookupTimeoutMs}ms`,
    '--log-level', 'debug',
  ];
  progress(`starting ${options.daemons} daemons`);
  const first = await startSwarmDaemon(cleanup, common);
  const second = await startSwarmDaemon(cleanup, [...common, '--bootstrap', first.p2pAddress]);
  const rest = await inBatches(options.daemons - 2, STARTING_AT_ONCE, () =>
    startSwarmDaemon(cleanup, [...common, '--bootstrap', first.p2pAddress, '--bootstrap', second.p2pAddress]),
  );
  const daemons: SwarmDaemon[] = [first, second, ...rest];
  await Promise.all(daemons.map((d) => waitForLog(d, 'dht ready')));

  progress('each daemon pulls its own blob from the origin and provides it');
  await Promise.all(daemons.map((d, i) => pull(d, digests[i]!)));
  await Promise.all(
    daemons.map((d, i) =>
      waitFor(() => d.logs().some((l) => l.msg === 'provided' && l['digest'] === digests[i]), PROVIDE_TIMEOUT_MS),
    ),
  );
  const originBefore = blobGets(origin);

  const pullMs: number[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    progress(`round ${round}/${options.rounds}: ${options.daemons} lookups at once`);
    // Daemon i asks for the blob of daemon i + round: a holder it has not fetched from yet.
    pullMs.push(...(await Promise.all(daemons.map((d, i) => pull(d, digests[(i + round) % options.daemons]!)))));
  }
  await mkdir(join(options.outDir, 'logs'), { recursive: true });
  await Promise.all(daemons.map((d, i) => writeFile(join(options.outDir, 'logs', `daemon-${i}.log`), d.service.output())));
  const lines = daemons.flatMap((d, i) => d.logs().filter((l) => isRoundLookup(l, digests[i]!)));
  const found = lines.filter((l) => Number(l['providers']) > 0);
  const firstMs = found.map((l) => Number(l['first_ms']));
  const whole = lines.map((l) => Number(l['duration_ms']));
  const stats = (values: number[]) => ({
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: Math.max(...values),
  });
  return {
    machine,
    daemons: options.daemons,
    rounds: options.rounds,
    blobBytes: options.blobSize,
    lookupTimeoutMs: options.lookupTimeoutMs,
    lookups: lines.length,
    misses: lines.length - found.length,
    firstProviderMs: stats(firstMs),
    lookupMs: stats(whole),
    withinDefaultDeadline: firstMs.filter((ms) => ms <= DEFAULT_DEADLINE_MS).length / Math.max(1, lines.length),
    pullMs: { p50: percentile(pullMs, 50), p99: percentile(pullMs, 99) },
    originBlobGets: blobGets(origin) - originBefore,
  };
}

/** A provider lookup for a blob other than the daemon's own (its own was a miss before anyone held it). */
function isRoundLookup(line: DaemonLogLine, own: string): boolean {
  return line.msg === 'provider lookup' && line['members'] !== true && line['digest'] !== own;
}

/** GETs a blob through a daemon and checks it arrived whole; returns the milliseconds it took. */
async function pull(daemon: SwarmDaemon, digest: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${daemon.url}/v2/${REPO}/blobs/${digest}`);
  const body = await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`daemon ${daemon.host}: ${digest}: HTTP ${res.status}`);
  const got = `sha256:${createHash('sha256').update(new Uint8Array(body)).digest('hex')}`;
  if (got !== digest) throw new Error(`daemon ${daemon.host}: ${digest} arrived as ${got}`);
  return performance.now() - started;
}

function blobGets(origin: Registry): number {
  return registryRequests(origin).filter((r) => r.method === 'GET' && r.path.includes('/blobs/')).length;
}
