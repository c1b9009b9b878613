import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { byteSize, int, type ValueParser } from '@flotilla/config';

/** What one run of the mirror benchmark measures, from its command line. */
export interface BenchOptions {
  /** Size of the blob pulled in the throughput runs. */
  size: number;
  /** Repetitions per throughput mode; medians are reported. */
  repeat: number;
  /** Size of the blob pulled by the concurrent clients of the memory run. */
  memSize: number;
  /** Where mirror.json is written. */
  outDir: string;
}

export const USAGE = `usage: flotilla bench mirror [--size 512MiB] [--repeat 3] [--mem-size 1GiB] [--out DIR]
  --size      blob size for the throughput runs (default 512MiB)
  --repeat    repetitions per mode, medians reported (default 3)
  --mem-size  blob size pulled by 3 concurrent clients in the memory run (default 1GiB)
  --out       directory for mirror.json (default bench/out)`;

/** A command line the benchmark cannot run with; the message names the flag. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const FLAGS = {
  size: { type: 'string', default: '512MiB' },
  repeat: { type: 'string', default: '3' },
  'mem-size': { type: 'string', default: '1GiB' },
  out: { type: 'string', default: fileURLToPath(new URL('../../out', import.meta.url)) },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

// The random blobs are made with crypto.randomBytes, which stops at 2^31 - 1 bytes.
const blobSize = byteSize({ min: 2 ** 20 });
const MAX_BLOB = 2 ** 31 - 1;
const repetitions = int({ min: 1, max: 100 });

/** A byte count the way the flags take it: 512MiB, 1GiB. */
export const formatSize = (bytes: number): string => blobSize.format(bytes);

/** Parses the flags; returns undefined for --help. Throws UsageError naming the bad flag. */
export function parseBenchArgs(argv: string[]): BenchOptions | undefined {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) return undefined;
  return {
    size: parseBlobSize('--size', values.size),
    repeat: parseFlag('--repeat', values.repeat, repetitions),
    memSize: parseBlobSize('--mem-size', values['mem-size']),
    outDir: values.out,
  };
}

function parseBlobSize(flag: string, raw: string): number {
  const bytes = parseFlag(flag, raw, blobSize);
  if (bytes > MAX_BLOB) throw new UsageError(`${flag} ${raw}: at most ${MAX_BLOB} bytes (just under 2GiB)`);
  return bytes;
}

function parseFlag<T>(flag: string, raw: string, parser: ValueParser<T>): T {
  try {
    return parser.parse(raw);
  } catch {
    throw new UsageError(`${flag} ${JSON.stringify(raw)}: expected ${parser.expected}`);
  }
}
