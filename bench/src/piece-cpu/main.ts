/**
 * Micro-benchmark: CPU per MB of piece traffic between two daemons' piece paths, each in its own process.
 *
 *   node bench/src/piece-cpu/main.ts [--mib 256] [--concurrency 4] [--rate 0] [--rounds 1]
 *
 * The server process holds one random blob in a ContentStore and runs the daemon's PieceServer on a libp2p node
 * (the daemon's transport, Noise, yamux); this process fetches every piece with the daemon's fetchPiece (sha256
 * checked), `concurrency` at once, and prints the CPU both processes spent per MB delivered. `--rate` paces the
 * server's uploads and this side's downloads with token buckets (B/s, 0 = unlimited), as `--upload-rate` and
 * `--download-rate` do. CPU time is measured per process (/proc), so it says little about the machine's load; the
 * wall time does.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { silentLogger } from '@flotilla/log';
import { TestNetwork } from '@flotilla/p2p/testing';
import { TokenBucket } from '@flotilla/ratelimit';
import { pieceRange } from '@flotilla/wire';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { fetchPiece } from '../../../daemon/src/swarm/fetch-piece.ts';
import { cpuSeconds, peakRssBytes } from '../common/proc.ts';
import { parseArgs, type PieceCpuOptions } from './options.ts';
import type { ServerReady } from './server.ts';

const MB = 1e6;

interface RoundResult {
  mb: number;
  wallS: number;
  clientMsPerMb: number;
  serverMsPerMb: number;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const server = fork(new URL('./server.ts', import.meta.url), [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const network = await TestNetwork.create();
  try {
    const [ready] = (await once(server, 'message')) as [ServerReady];
    const node = await network.node({ logger: silentLogger() });
    const parent = peerIdFromString(ready.peerId);
    await node.dial(multiaddr(ready.address.includes('/p2p/') ? ready.address : `${ready.address}/p2p/${ready.peerId}`));
    const results: RoundResult[] = [];
    for (let round = 0; round < options.rounds; round++) results.push(await fetchAll(node, parent, ready, options, server));
    const peakMiB = async (pid: number): Promise<string> => ((await peakRssBytes(pid)) / 2 ** 20).toFixed(0);
    console.log(`peak RSS MiB: receiver ${await peakMiB(process.pid)}, sender ${await peakMiB(server.pid!)}`);
    for (const [i, r] of results.entries()) {
      console.log(
        `round ${i + 1}: ${r.mb.toFixed(0)} MB in ${r.wallS.toFixed(2)} s (${(r.mb / r.wallS).toFixed(0)} MB/s) · CPU ms/MB: ` +
          `receiver ${r.clientMsPerMb.toFixed(2)} + sender ${r.serverMsPerMb.toFixed(2)} = ${(r.clientMsPerMb + r.serverMsPerMb).toFixed(2)}`,
      );
    }
  } finally {
    server.kill('SIGTERM');
    await network.stop();
  }
}

/** Fetches every piece once, `concurrency` at a time; CPU of both processes over the round. */
async function fetchAll(
  node: Awaited<ReturnType<TestNetwork['node']>>,
  parent: ReturnType<typeof peerIdFromString>,
  blob: ServerReady,
  options: PieceCpuOptions,
  server: ChildProcess,
): Promise<RoundResult> {
  const bucket = new TokenBucket(options.rate);
  const signal = new AbortController().signal;
  const serverPid = server.pid!;
  const before = { at: performance.now(), self: await cpuSeconds(process.pid), server: await cpuSeconds(serverPid) };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < blob.pieceDigests.length) {
      const index = next++;
      const { start, end } = pieceRange(index, blob.size, blob.pieceLength);
      const outcome = await fetchPiece({
        node,
        parent,
        blobDigest: blob.digest,
        index,
        length: end - start,
        pieceDigest: blob.pieceDigests[index],
        downloadBucket: bucket,
        idleTimeoutMs: 30_000,
        cancel: signal,
        signal,
      });
      if (outcome.kind !== 'ok') throw new Error(`piece ${index}: ${outcome.kind}${'error' in outcome ? ` (${outcome.error})` : ''}`);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const wallS = (performance.now() - before.at) / 1000;
  const mb = blob.size / MB;
  return {
    mb,
    wallS,
    clientMsPerMb: ((await cpuSeconds(process.pid)) - before.self) * 1000 / mb,
    serverMsPerMb: ((await cpuSeconds(serverPid)) - before.server) * 1000 / mb,
  };
}

await main();
