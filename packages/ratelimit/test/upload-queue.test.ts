import { describe, expect, it } from 'vitest';
import { TokenBucket, UploadQueue, type QueuedUpload } from '../src/index.ts';

const KiB = 1024;

async function* chunks(count: number, size: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield new Uint8Array(size);
}

function admitted(queue: UploadQueue, bytes: number): QueuedUpload {
  const admission = queue.admit(bytes);
  if (!admission.ok) throw new Error(`refused, retry after ${admission.retryAfterMs} ms`);
  return admission.upload;
}

/** Sends one upload to the end; resolves with when it finished (ms since `t0`). */
async function send(upload: QueuedUpload, count: number, size: number, t0: number): Promise<number> {
  try {
    for await (const chunk of upload.pace(chunks(count, size), new AbortController().signal)) void chunk;
    return performance.now() - t0;
  } finally {
    upload.release();
  }
}

describe('UploadQueue', () => {
  it('refuses what could not start within maxWaitMs, and says when to come back', () => {
    // 1 MB/s: 4 uploads of 256 KiB are ~1 s of backlog.
    const queue = new UploadQueue({ bucket: new TokenBucket(1_000_000, 64 * KiB), slots: 100, maxWaitMs: 1_000 });
    for (let i = 0; i < 4; i++) admitted(queue, 256 * KiB);
    const refused = queue.admit(256 * KiB);
    expect(refused.ok).toBe(false);
    if (!refused.ok) expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(queue.uploads).toBe(4);
  });

  it('refuses beyond its slots even when unlimited', () => {
    const queue = new UploadQueue({ bucket: new TokenBucket(0), slots: 2, maxWaitMs: 1_000 });
    admitted(queue, 1e9);
    const second = admitted(queue, 1e9);
    expect(queue.admit(1).ok).toBe(false);
    second.release();
    expect(queue.admit(1).ok).toBe(true);
  });

  it('lets a few send at once and finishes the first ones first instead of all late together', async () => {
    // 2 MB/s, 8 uploads of 128 KiB (~0.5 s in all), 2 sending at once.
    const queue = new UploadQueue({ bucket: new TokenBucket(2_000_000, 16 * KiB), slots: 100, maxWaitMs: 10_000, sending: 2 });
    const t0 = performance.now();
    const uploads = Array.from({ length: 8 }, () => admitted(queue, 128 * KiB));
    const finished = await Promise.all(uploads.map((upload) => send(upload, 8, 16 * KiB, t0)));
    expect(queue.uploads).toBe(0);
    expect(queue.sentBytes).toBe(8 * 128 * KiB);
    expect(queue.backlogMs).toBe(0);
    // The first pair is done after about a quarter of the time, not at the end with everyone else.
    expect(finished[0]!).toBeLessThan(finished[7]! * 0.5);
    expect(finished[7]!).toBeGreaterThan(400);
  });

  it('gives the next upload its turn when one ahead fails, and aborts a wait', async () => {
    const queue = new UploadQueue({ bucket: new TokenBucket(1_000_000, 128 * KiB), slots: 10, maxWaitMs: 10_000, sending: 1 });
    const first = admitted(queue, 128 * KiB);
    const second = admitted(queue, 128 * KiB);
    const third = admitted(queue, 128 * KiB);
    const aborted = new AbortController();
    const thirdWaits = (async () => {
      for await (const chunk of third.pace(chunks(1, 128 * KiB), aborted.signal)) void chunk;
    })();
    first.release(); // failed before sending anything: the second is next, the third still waits
    aborted.abort(new Error('child went away'));
    await expect(thirdWaits).rejects.toThrow('child went away');
    third.release();
    expect(await send(second, 1, 128 * KiB, performance.now())).toBeLessThan(1_000);
    expect(queue.uploads).toBe(0);
    expect(queue.sentBytes).toBe(128 * KiB);
  });

  it('judges its backlog by the rate uploads really drained at when that is below the bucket (a starved host)', async () => {
    // 100 MB/s nominal, but each 64 KiB chunk takes the sender ~80 ms: ~0.8 MB/s really.
    const queue = new UploadQueue({ bucket: new TokenBucket(100_000_000), slots: 100, maxWaitMs: 300, sending: 1 });
    const uploads = Array.from({ length: 20 }, () => admitted(queue, 64 * KiB));
    const slowSend = async (upload: QueuedUpload): Promise<void> => {
      try {
        for await (const chunk of upload.pace(chunks(1, 64 * KiB), new AbortController().signal)) {
          void chunk;
          await new Promise((resolve) => setTimeout(resolve, 80));
        }
      } finally {
        upload.release();
      }
    };
    const sending = (async () => {
      for (const upload of uploads) await slowSend(upload);
    })();
    await new Promise((resolve) => setTimeout(resolve, 700));
    // Nominally the ~11 uploads left are 7 ms of backlog; at the drained rate they are most of a second.
    expect(queue.backlogMs).toBeGreaterThan(300);
    expect(queue.admit(64 * KiB).ok).toBe(false);
    await sending;
  });

  it('starts a small upload at once, even behind a queue of big ones', async () => {
    const queue = new UploadQueue({ bucket: new TokenBucket(1_000_000, 64 * KiB), slots: 100, maxWaitMs: 10_000, sending: 1 });
    const big = [admitted(queue, 256 * KiB), admitted(queue, 256 * KiB)];
    const small = admitted(queue, 2 * KiB);
    const t0 = performance.now();
    expect(await send(small, 1, 2 * KiB, t0)).toBeLessThan(100);
    for (const upload of big) upload.release();
  });
});
