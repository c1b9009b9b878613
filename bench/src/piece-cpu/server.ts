/** The serving side of the piece CPU micro-benchmark: a PieceServer over a store holding one random blob. */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@flotilla/log';
import { digestOf, parseDigest } from '@flotilla/oci';
import { TestNetwork } from '@flotilla/p2p/testing';
import { TokenBucket } from '@flotilla/ratelimit';
import { ContentStore } from '@flotilla/store';
import { choosePieceLength, pieceCountFor, pieceRange } from '@flotilla/wire';
import { ActiveDownloads } from '../../../daemon/src/swarm/active-downloads.ts';
import { PieceServer } from '../../../daemon/src/swarm/piece-server.ts';
import type { PieceCpuOptions } from './options.ts';

/** What the server tells the benchmark once it listens. */
export interface ServerReady {
  peerId: string;
  address: string;
  digest: string;
  size: number;
  pieceLength: number;
  pieceDigests: string[];
}

const options = JSON.parse(process.argv[2] ?? '{}') as PieceCpuOptions;
const dir = await mkdtemp(join(tmpdir(), 'flotilla-piece-cpu-'));
const network = await TestNetwork.create();
const stop = async (): Promise<void> => {
  await network.stop();
  await rm(dir, { recursive: true, force: true });
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('disconnect', () => void stop());

const bytes = randomBytes(options.mib * 1024 * 1024);
const digest = digestOf(bytes);
const pieceLength = choosePieceLength(bytes.length);
const pieceDigests = Array.from({ length: pieceCountFor(bytes.length, pieceLength) }, (_, i) => {
  const { start, end } = pieceRange(i, bytes.length, pieceLength);
  return `sha256:${createHash('sha256').update(bytes.subarray(start, end)).digest('hex')}`;
});
const store = await ContentStore.open(dir, silentLogger());
const writer = await store.createWriter(parseDigest(digest), bytes.length);
await writer.write(0, bytes);
await writer.commit({ source: 'bench' });

const node = await network.node({ logger: silentLogger() });
await new PieceServer({
  node,
  store,
  active: new ActiveDownloads(),
  uploadSlots: 64,
  uploadQueueMs: 60_000,
  uploadBucket: new TokenBucket(options.rate),
  logger: silentLogger(),
}).start();
const ready: ServerReady = { peerId: node.peerId.toString(), address: node.getMultiaddrs()[0]!.toString(), digest, size: bytes.length, pieceLength, pieceDigests };
process.send?.(ready);
