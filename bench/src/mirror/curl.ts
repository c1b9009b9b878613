import { spawn } from 'node:child_process';
import { hasherFor, parseDigest } from '@flotilla/oci';
import { runChecked } from '@flotilla/test';

/**
 * Every pull is bounded, so a hung mirror costs one failed pull instead of stalling the run: 30 s plus the time
 * the blob takes at 20 MB/s, far below anything a working mirror does here.
 */
function maxSeconds(size: number): number {
  return Math.ceil(30 + size / 20e6);
}

/** One blob download as curl timed it. */
export interface TimedPull {
  bytes: number;
  seconds: number;
}

/** The expected content of a pull. */
export interface BlobRef {
  digest: string;
  size: number;
}

/** What a verified pull received, compared with what it should have. */
export interface Verification {
  url: string;
  ok: boolean;
  bytes: number;
  digest: string;
}

/**
 * Downloads `url` with curl into /dev/null: the same client, a separate process, for every mode, so the numbers
 * compare servers and not HTTP clients. Throws on a non-2xx status or a transfer error.
 */
export async function timedPull(url: string, expected: BlobRef): Promise<TimedPull> {
  const limit = maxSeconds(expected.size);
  const result = await runChecked(
    'curl',
    ['-sS', '--fail', '--max-time', String(limit), '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url],
    { timeoutMs: (limit + 10) * 1000 },
  );
  const [bytes, seconds] = result.stdout.trim().split(' ').map(Number);
  if (!Number.isFinite(bytes) || !seconds) throw new Error(`curl printed no timing for ${url}: ${result.stdout}`);
  if (bytes !== expected.size) throw new Error(`${url}: ${bytes} bytes, expected ${expected.size}`);
  return { bytes: bytes!, seconds };
}

/**
 * Downloads `url` with curl piped into `openssl dgst -sha256`: what a client that verifies the stream pays at the
 * least (one more copy through a pipe, one hash), timed by curl like the other modes. Throws on a wrong digest too.
 */
export async function hashedPull(url: string, expected: BlobRef): Promise<TimedPull> {
  const limit = maxSeconds(expected.size);
  // pipefail: a failed transfer fails the pipeline even though openssl hashed what arrived. The URL goes in as $1.
  const pipeline = `curl -sS --fail --max-time ${limit} -w '%{stderr}%{size_download} %{time_total}' "$1" | openssl dgst -sha256 -r`;
  const result = await runChecked('bash', ['-o', 'pipefail', '-c', pipeline, 'hashed-pull', url], { timeoutMs: (limit + 10) * 1000 });
  const [bytes, seconds] = (result.stderr.trim().split('\n').at(-1) ?? '').split(' ').map(Number);
  if (!Number.isFinite(bytes) || !seconds) throw new Error(`curl printed no timing for ${url}: ${result.stderr}`);
  if (bytes !== expected.size) throw new Error(`${url}: ${bytes} bytes, expected ${expected.size}`);
  const digest = `sha256:${result.stdout.trim().split(' ')[0]}`;
  if (digest !== expected.digest) throw new Error(`${url}: openssl computed ${digest}, expected ${expected.digest}`);
  return { bytes: bytes!, seconds };
}

/** Downloads `url` with curl and digests what arrived; never rejects on wrong content, only on a failed transfer. */
export function verifiedPull(url: string, expected: BlobRef): Promise<Verification> {
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', ['-sS', '--fail', '--max-time', String(maxSeconds(expected.size)), url], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const hash = hasherFor(parseDigest(expected.digest));
    let bytes = 0;
    let stderr = '';
    curl.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    curl.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    curl.once('error', reject);
    curl.once('close', (code) => {
      if (code !== 0) return reject(new Error(`curl ${url} exited ${code}: ${stderr.trim()}`));
      const digest = `${parseDigest(expected.digest).algorithm}:${hash.digest('hex')}`;
      resolve({ url, ok: digest === expected.digest && bytes === expected.size, bytes, digest });
    });
  });
}
