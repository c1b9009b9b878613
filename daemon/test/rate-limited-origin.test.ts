import { createHash, randomBytes } from 'node:crypto';
import { silentLogger } from '@flotilla/log';
import type { BlobBody } from '@flotilla/origin';
import { TokenBucket } from '@flotilla/ratelimit';
import { pushBlob, startRegistry, type Registry } from '@flotilla/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimitedOriginClient } from '../src/swarm/rate-limited-origin.ts';

const MiB = 1024 * 1024;
const REPO = 'app/limited';

/** --download-rate covers origin bodies on both paths: request() (manifests, Range) and requestBlob() (cold pulls). */
describe('RateLimitedOriginClient', () => {
  let registry: Registry;
  const blob = randomBytes(3 * MiB);
  let digest: string;

  beforeAll(async () => {
    registry = await startRegistry();
    digest = await pushBlob(registry, REPO, blob);
  });

  afterAll(async () => {
    await registry?.stop();
  });

  function client(bytesPerSecond: number): RateLimitedOriginClient {
    return new RateLimitedOriginClient(
      {
        access: () => ({ insecure: true }),
        connectTimeoutMs: 2_000,
        firstByteTimeoutMs: 5_000,
        idleTimeoutMs: 5_000,
        logger: silentLogger(),
      },
      new TokenBucket(bytesPerSecond),
    );
  }

  async function readBlobBody(body: BlobBody): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let held = await body.read(); held !== undefined; held = await body.read()) {
      parts.push(Buffer.from(held.bytes));
      held.release();
    }
    return Buffer.concat(parts);
  }

  it('draws a cold blob body (requestBlob) from the bucket', async () => {
    const origin = client(3 * MiB);
    try {
      const started = performance.now();
      const response = await origin.requestBlob({ registry: registry.host, repository: REPO, reference: digest });
      const bytes = await readBlobBody(response.body);
      const elapsedMs = performance.now() - started;

      expect(response.status).toBe(200);
      expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(digest);
      // 3 MiB at 3 MiB/s, less the bucket's 0.3 MiB burst.
      expect(elapsedMs).toBeGreaterThan(850);
    } finally {
      await origin.close();
    }
  });

  it('passes the pooled body through untouched when the rate is unlimited', async () => {
    const origin = client(0);
    try {
      const response = await origin.requestBlob({ registry: registry.host, repository: REPO, reference: digest });
      expect((await readBlobBody(response.body)).equals(blob)).toBe(true);
    } finally {
      await origin.close();
    }
  });
});
