import { startFlotillaDaemon, waitFor, type FlotillaDaemon } from '@flotilla/test';
import type { Cleanup } from '../common/cleanup.ts';
import type { BenchImage } from './image.ts';
import { outputTail, type ByteSources } from './topology.ts';

/** Daemons started at once: ten Node processes booting together on two cores would trip their ready timeouts. */
export const STARTING_AT_ONCE = 4;
export const READY_TIMEOUT_MS = 60_000;
/** How long a daemon may take to log a blob it has served as stored. */
const BLOB_LOG_TIMEOUT_MS = 10_000;

/** A started daemon with P2P on: its libp2p address with /p2p/<id> is what other daemons bootstrap through. */
export interface SwarmDaemon extends FlotillaDaemon {
  p2pAddress: string;
}

/** Starts one daemon on the scope, run through `commandPrefix` (its node's namespace under --link netns). */
export async function startSwarmDaemon(scope: Cleanup, args: string[], commandPrefix: string[] = []): Promise<SwarmDaemon> {
  const daemon = await scope.start(startFlotillaDaemon({ args, readyTimeoutMs: READY_TIMEOUT_MS, commandPrefix }));
  const line = await waitFor(() => daemon.logs().find((l) => l.msg === 'p2p listening'), READY_TIMEOUT_MS).catch(() => {
    throw new Error(`daemon ${daemon.host} logged no "p2p listening" line:\n${outputTail('daemon', daemon.service, 8)}`);
  });
  const peerId = String(line['peerId']);
  const address = ((line['addresses'] ?? []) as string[])[0];
  if (!address) throw new Error(`daemon ${daemon.host} listens on no libp2p address: ${JSON.stringify(line)}`);
  return { ...daemon, p2pAddress: address.includes('/p2p/') ? address : `${address}/p2p/${peerId}` };
}

/** Waits until the daemon has logged a line with this message, or fails quoting its last output. */
export async function waitForLog(daemon: FlotillaDaemon, msg: string, timeoutMs = READY_TIMEOUT_MS): Promise<void> {
  await waitFor(() => daemon.logs().some((line) => line.msg === msg), timeoutMs).catch(() => {
    throw new Error(`daemon ${daemon.host} logged no "${msg}" line within ${timeoutMs} ms:\n${outputTail('daemon', daemon.service, 8)}`);
  });
}

/**
 * Bytes by source from the daemon's log: one "swarm download finished" line per blob the swarm delivered; a blob
 * without one came from the origin whole (sent back to the source, no provider found, or nobody reachable).
 */
export async function daemonSources(daemon: FlotillaDaemon, image: BenchImage): Promise<ByteSources> {
  const sources: ByteSources = { bytesFromOrigin: 0, bytesFromSeed: 0, bytesFromPeers: 0 };
  for (const blob of image.blobs) {
    const forBlob = () => daemon.logs().filter((line) => line['digest'] === blob.digest);
    // The last byte reaches the client right after the digest check; "blob stored" follows the commit.
    await waitFor(() => forBlob().some((line) => line.msg === 'blob stored'), BLOB_LOG_TIMEOUT_MS).catch(() => {
      throw new Error(`daemon ${daemon.host} served ${blob.digest} but logged no "blob stored" line within ${BLOB_LOG_TIMEOUT_MS} ms`);
    });
    const swarm = forBlob().find((line) => line.msg === 'swarm download finished');
    if (!swarm) {
      sources.bytesFromOrigin += blob.size;
      continue;
    }
    sources.bytesFromOrigin += Number(swarm['bytes_from_origin'] ?? 0);
    sources.bytesFromSeed += Number(swarm['bytes_from_seed'] ?? 0);
    sources.bytesFromPeers += Number(swarm['bytes_from_peers'] ?? 0);
  }
  return sources;
}

/** Runs `start(index)` for every index below `count`, at most `atOnce` at a time; results in index order. */
export async function inBatches<T>(count: number, atOnce: number, start: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  while (results.length < count) {
    const first = results.length;
    results.push(...(await Promise.all(Array.from({ length: Math.min(atOnce, count - first) }, (_, k) => start(first + k)))));
  }
  return results;
}
