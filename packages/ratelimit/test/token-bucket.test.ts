import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { TokenBucket, throttleStream } from '../src/index.ts';

describe('TokenBucket', () => {
  it('is unlimited at rate 0', () => {
    const bucket = new TokenBucket(0);
    expect(bucket.unlimited).toBe(true);
    expect(bucket.reserve(1e12)).toBe(0);
  });

  it('charges waits that add up to bytes / rate beyond the burst', () => {
    const bucket = new TokenBucket(1_000_000, 100_000);
    let totalWait = 0;
    for (let i = 0; i < 10; i++) totalWait = Math.max(totalWait, bucket.reserve(100_000));
    // 1 MB through a 1 MB/s bucket with a 100 kB burst: the last chunk waits ~0.9 s.
    expect(totalWait).toBeGreaterThan(850);
    expect(totalWait).toBeLessThan(950);
  });

  it('limits a stream to the configured rate (measured over 300 ms)', async () => {
    const bucket = new TokenBucket(2_000_000, 64 * 1024);
    const chunks = Array.from({ length: 10 }, () => Buffer.alloc(64 * 1024));
    const begin = performance.now();
    let received = 0;
    for await (const chunk of Readable.from(chunks).pipe(throttleStream(bucket))) received += (chunk as Buffer).byteLength;
    const seconds = (performance.now() - begin) / 1000;
    expect(received).toBe(10 * 64 * 1024);
    // 640 KiB at 2 MB/s after a 64 KiB burst: at least ~0.29 s.
    expect(seconds).toBeGreaterThan(0.25);
  });

  it('rejects a wait when the signal aborts', async () => {
    const bucket = new TokenBucket(1_000, 1_000);
    bucket.reserve(1_000);
    const controller = new AbortController();
    const waiting = bucket.take(10_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});
