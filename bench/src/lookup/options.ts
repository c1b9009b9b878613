import { fileURLToPath } from 'node:url';
import { byteSize, defineOptions, duration, int, loadConfig, option, optionalOption, string } from '@flotilla/config';

const DEFAULT_OUT_PARENT = fileURLToPath(new URL('../../out', import.meta.url));

/** The flags of `flotilla bench lookup`. */
export const lookupOptions = defineOptions({
  daemons: option({ flag: 'daemons', parser: int({ min: 3, max: 100 }), default: 20, doc: 'daemons in the DHT (each a process, no scheduler)' }),
  rounds: option({
    flag: 'rounds',
    parser: int({ min: 1, max: 50 }),
    default: 5,
    doc: 'lookup rounds: in each, every daemon at once pulls a blob another daemon holds (daemons × rounds lookups)',
  }),
  blobSize: option({ flag: 'blob-size', parser: byteSize({ min: 1024 }), default: 256 * 1024, defaultText: '256KiB', doc: 'size of each blob' }),
  lookupTimeout: option({
    flag: 'lookup-timeout',
    parser: duration({ min: 10 }),
    default: 2_000,
    defaultText: '2s',
    doc: "the daemons' --dht-lookup-timeout during the run: long, so slow lookups are measured instead of cut off at the default 100 ms",
  }),
  out: optionalOption({ flag: 'out', parser: string({ metavar: 'DIR' }), doc: 'where results.json and report.md go (default bench/out/lookup-<timestamp>)' }),
});

export interface LookupOptions {
  daemons: number;
  rounds: number;
  blobSize: number;
  lookupTimeoutMs: number;
  outDir: string;
}

/** Parses and checks the flags (defaults < FLOTILLA_* env < flags); throws ConfigError naming the flag. */
export function loadLookupOptions(argv: readonly string[], env: NodeJS.ProcessEnv, now = new Date()): LookupOptions {
  const raw = loadConfig(lookupOptions, { argv, env });
  const stamp = now.toISOString().replace(/\.\d+Z$/, '').replaceAll('-', '').replaceAll(':', '').replace('T', '-');
  return {
    daemons: raw.daemons,
    rounds: raw.rounds,
    blobSize: raw.blobSize,
    lookupTimeoutMs: raw.lookupTimeout,
    outDir: raw.out ?? `${DEFAULT_OUT_PARENT}/lookup-${stamp}`,
  };
}
