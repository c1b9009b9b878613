import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@flotilla/log';
import { TokenBucket } from '@flotilla/ratelimit';
import { pieceRange, type PieceGetReply, type RequestContext } from '@flotilla/wire';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeedPieceServer } from '../src/seed-pieces.ts';
import { Seed, type Seeds } from '../src/seed.ts';

const MiB = 1024 * 1024;
const BLOB = randomBytes(8 * MiB);
const DIGEST = `sha256:${createHash('sha256').update(BLOB).digest('hex')}`;

describe('the seed\'s piece server', () => {
  let dir: string;
  let seed: Seed;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-seed-pieces-'));
    const blobPath = join(dir, 'blob');
    await writeFile(blobPath, BLOB);
    const pieceCount = 8;
    const digests = Array.from({ length: pieceCount }, (_, i) => {
      const { start, end } = pieceRange(i, BLOB.byteLength, MiB);
      return `sha256:${createHash('sha256').update(BLOB.subarray(start, end)).digest('hex')}`;
    });
    seed = new Seed({ digest: DIGEST, size: BLOB.byteLength, pieceLength: MiB, pieceCount, pieceDigests: new Array(pieceCount).fill(null) }, { blobPath });
    seed.advance(digests, BLOB.byteLength);
    seed.markCommitted();
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const context = (): RequestContext => ({ peer: { toString: () => 'child' }, signal: new AbortController().signal }) as unknown as RequestContext;

  async function drain(reply: PieceGetReply): Promise<Buffer> {
    if (reply.type !== 'piece') throw new Error(`expected a piece, got ${reply.type}`);
    const chunks: Uint8Array[] = [];
    try {
      for await (const chunk of reply.body as AsyncIterable<Uint8Array>) chunks.push(chunk);
      reply.done?.();
    } catch (err) {
      reply.done?.(err);
      throw err;
    }
    return Buffer.concat(chunks);
  }

  it('sends a piece again while other uploads wait only once the relay window is over', async () => {
    const server = new SeedPieceServer({
      seeds: { get: () => seed } as unknown as Seeds,
      uploadSlots: 100,
      uploadQueueMs: 5_000,
      upload: new TokenBucket(4 * MiB),
      logger: silentLogger(),
    });
    const first = await server.get({ digest: DIGEST, index: 0 }, context());
    const other = await server.get({ digest: DIGEST, index: 1 }, context());
    // A second copy of piece 0 while the link is busy: the daemon that has it should pass it on.
    const copy = await server.get({ digest: DIGEST, index: 0 }, context());
    expect(copy).toMatchObject({ type: 'busy', retryAfterMs: expect.any(Number) });
    const [bytes0, bytes1] = await Promise.all([drain(first), drain(other)]);
    expect(bytes0.equals(BLOB.subarray(0, MiB))).toBe(true);
    expect(bytes1.equals(BLOB.subarray(MiB, 2 * MiB))).toBe(true);
    // Nothing else queued: a copy costs nobody anything.
    expect((await drain(await server.get({ digest: DIGEST, index: 0 }, context()))).equals(BLOB.subarray(0, MiB))).toBe(true);
  });
});
