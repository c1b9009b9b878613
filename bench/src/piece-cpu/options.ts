/** Flags of the piece CPU micro-benchmark (see main.ts). */
export interface PieceCpuOptions {
  /** Blob size in MiB. */
  mib: number;
  /** Piece requests in flight at once. */
  concurrency: number;
  /** Upload and download buckets in B/s; 0 = unlimited. */
  rate: number;
  /** Times every piece is fetched (the first round includes warm-up). */
  rounds: number;
}

const DEFAULTS: PieceCpuOptions = { mib: 256, concurrency: 4, rate: 0, rounds: 2 };
const LIMITS: Record<keyof PieceCpuOptions, [number, number]> = { mib: [1, 4096], concurrency: [1, 64], rate: [0, 1e10], rounds: [1, 20] };

export function parseArgs(argv: string[]): PieceCpuOptions {
  const options = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i]?.replace(/^--/, '') as keyof PieceCpuOptions;
    const value = Number(argv[i + 1]);
    const limits = LIMITS[name];
    if (limits === undefined) throw new Error(`unknown flag ${argv[i]} (known: ${Object.keys(DEFAULTS).map((k) => `--${k}`).join(', ')})`);
    if (!Number.isFinite(value) || value < limits[0] || value > limits[1]) throw new Error(`--${name} wants a number from ${limits[0]} to ${limits[1]}`);
    options[name] = value;
  }
  return options;
}
