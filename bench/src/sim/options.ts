import { fileURLToPath } from 'node:url';
import { DEFAULT_UPLOAD_QUEUE_MS } from '../../../daemon/src/config.ts';
import { DEFAULT_SEED_GROUP_SIZE } from '../../../scheduler/src/parents/seed-group.ts';
import {
  byteSize,
  ConfigError,
  defineOptions,
  duration,
  enumOf,
  int,
  InvalidValue,
  loadConfig,
  option,
  optionalOption,
  string,
  type ValueParser,
} from '@flotilla/config';

const MAX_NODES = 100_000;
const MIN_LAYER = 2 ** 10;

/** Kraken's published experiment: 2600 hosts, a 3 GB image of 2 layers, 300 MB/s per host, several seeders. */
export const KRAKEN = { nodes: 2600, layerSizes: [1_500_000_000, 1_500_000_000], linkRate: 300_000_000, seeds: 3 } as const;
const DEFAULTS = { nodes: 1000, layerSizes: [2 ** 30], linkRate: 100_000_000, seeds: 1 } as const;

/** Parent policies of scheduler/src/parents the simulated schedulers can run. */
export const POLICIES = ['seed-group', 'load-aware'] as const;
export type PolicyName = (typeof POLICIES)[number];

/** `ITEM,ITEM,...`, each parsed by `item`. */
function commaList<T>(item: ValueParser<T>, what: string): ValueParser<T[]> {
  const expected = `comma-separated ${what}`;
  return {
    metavar: `${item.metavar},${item.metavar}...`,
    expected,
    parse(raw) {
      const items = raw.split(',').map((s) => s.trim());
      if (items.some((s) => s === '')) throw new InvalidValue(expected);
      return items.map((s) => {
        try {
          return item.parse(s);
        } catch {
          throw new InvalidValue(expected);
        }
      });
    },
    format: (values) => values.map((v) => item.format(v)).join(','),
  };
}

const DEFAULT_OUT_PARENT = fileURLToPath(new URL('../../out', import.meta.url));

/** The flags of `flotilla bench sim`. Flags left out take the preset's value, else the default shown. */
export const simOptions = defineOptions({
  preset: optionalOption({
    flag: 'preset',
    parser: enumOf(['kraken']),
    doc: "kraken = Kraken's published test: 2600 nodes, a 3 GB image of 2 layers, 300MB/s per host, 3 seeds (flags given override it)",
  }),
  nodes: optionalOption({ flag: 'nodes', parser: int({ min: 1, max: MAX_NODES }), doc: `daemons pulling the image at once (default ${DEFAULTS.nodes})` }),
  imageSize: optionalOption({ flag: 'image-size', parser: byteSize({ min: MIN_LAYER }), doc: 'one-layer image of this size (default 1GiB); or give --layers' }),
  layers: optionalOption({
    flag: 'layers',
    parser: commaList(byteSize({ min: MIN_LAYER }), 'sizes such as 1.5GB,1.5GB, each at least 1KiB'),
    doc: "the image's layer sizes, instead of --image-size; every node pulls them all at once",
  }),
  linkRate: optionalOption({
    flag: 'link-rate',
    parser: byteSize({ min: 1 }),
    doc: "bytes per second of every node's uplink and downlink (default 100MB = 100·10⁶ B/s)",
  }),
  seeds: optionalOption({
    flag: 'seeds',
    parser: int({ min: 1, max: 64 }),
    doc: 'schedulers, each seeding the blobs that rendezvous-hash to it as daemons route them (default 1)',
  }),
  seedRate: optionalOption({ flag: 'seed-rate', parser: byteSize({ min: 1 }), doc: "bytes per second of each seed's links (default: --link-rate)" }),
  originRate: optionalOption({ flag: 'origin-rate', parser: byteSize({ min: 1 }), doc: "bytes per second of the origin registry's uplink (default: --link-rate)" }),
  pieceLatency: option({
    flag: 'piece-latency',
    parser: duration(),
    default: 1,
    doc: 'round trip of a request: a piece request to its first byte, a scheduler call to its answer',
  }),
  policy: option({
    flag: 'policy',
    parser: commaList(enumOf(POLICIES), `policies from ${POLICIES.join(', ')}`),
    default: ['seed-group'],
    doc: "the schedulers' --parent-policy: seed-group (the scheduler's default) and/or load-aware; a list runs each",
  }),
  originFallback: option({
    flag: 'origin-fallback',
    parser: enumOf(['deadline', 'stalled']),
    default: 'stalled',
    doc: "when a simulated daemon takes the reader's next piece from the origin: stalled = after 4 piece timeouts in which no parent could serve it, if a busy parent holds it or the parents stopped gaining pieces (the daemon); deadline = no parent could serve it for one piece timeout (the daemon before that rule)",
  }),
  parents: option({ flag: 'parents', parser: int({ min: 1, max: 32 }), default: 4, doc: "the scheduler's --parents: parents handed to a daemon per blob" }),
  piecesInFlight: option({ flag: 'pieces-in-flight', parser: int({ min: 1, max: 64 }), default: 8, doc: "the daemon's --pieces-in-flight, shared by a node's blobs (at least 2 each)" }),
  seedGroupSize: option({ flag: 'seed-group-size', parser: int({ min: 1, max: 256 }), default: DEFAULT_SEED_GROUP_SIZE, doc: "the scheduler's --seed-group-size (seed-group policy)" }),
  uploadQueueMs: option({
    flag: 'upload-queue-time',
    parser: duration({ min: 1 }),
    default: DEFAULT_UPLOAD_QUEUE_MS,
    doc: "the daemons' --upload-queue-time: a piece request that would wait longer for the upload link is answered busy (daemons upload at --link-rate: --upload-rate set to it)",
  }),
  uploadSlots: option({ flag: 'upload-slots', parser: int({ min: 1 }), default: 200, doc: 'the daemons\' and seeds\' --upload-slots: pieces served at once, more are answered busy' }),
  sweep: optionalOption({
    flag: 'sweep',
    parser: commaList(int({ min: 1, max: MAX_NODES }), `node counts from 1 to ${MAX_NODES}`),
    doc: 'run once per node count (e.g. 100,1000,10000) instead of --nodes, and plot completion ÷ ideal against N',
  }),
  timeStep: option({
    flag: 'time-step',
    parser: duration({ min: 1 }),
    // No longer than the request round trip: at 5 ms every 1 ms round trip took 5 (Kraken's test: p99 1.37× → 1.32×).
    default: 1,
    doc: 'simulated time per step; events inside a step are rounded up to its end (keep it at most --piece-latency)',
  }),
  rngSeed: option({ flag: 'rng-seed', parser: int({ min: 0, max: 2 ** 32 - 1 }), default: 1, doc: 'seed of the random choices: the same seed gives the same results' }),
  out: optionalOption({ flag: 'out', parser: string({ metavar: 'DIR' }), doc: 'where results.json, report.md and the SVG charts go (default bench/out/sim-<timestamp>)' }),
});

/** One simulated run. */
export interface SimConfig {
  nodes: number;
  policy: PolicyName;
  layerSizes: number[];
  linkRate: number;
  seeds: number;
  seedRate: number;
  originRate: number;
  /** Round trip of one request, ms. */
  latencyMs: number;
  parents: number;
  piecesInFlight: number;
  originFallback: 'deadline' | 'stalled';
  uploadSlots: number;
  seedUploadSlots: number;
  /** The daemons' --upload-queue-time, ms (the seeds keep the scheduler's default). */
  uploadQueueMs: number;
  seedGroupSize: number;
  stepMs: number;
  rngSeed: number;
  /** Simulated seconds after which the run is reported as failed instead of going on. */
  timeLimitSeconds: number;
}

/** A validated `bench sim`: one run, or a sweep over node counts with everything else the same. */
export interface SimOptions {
  preset: 'kraken' | undefined;
  /** One config per policy and node count: a single one without --sweep and with one policy. */
  runs: SimConfig[];
  sweep: boolean;
  policies: PolicyName[];
  outDir: string;
}

/** Parses and checks the flags (defaults < preset < --config file < FLOTILLA_* env < flags); throws ConfigError naming the flag. */
export function loadSimOptions(argv: readonly string[], env: NodeJS.ProcessEnv, now = new Date()): SimOptions {
  const raw = loadConfig(simOptions, { argv, env });
  if (raw.imageSize !== undefined && raw.layers !== undefined) throw new ConfigError('give --image-size or --layers, not both');
  if (raw.nodes !== undefined && raw.sweep !== undefined) throw new ConfigError('give --nodes or --sweep, not both');
  const base = raw.preset === 'kraken' ? KRAKEN : DEFAULTS;
  const layerSizes = raw.layers ?? (raw.imageSize !== undefined ? [raw.imageSize] : [...base.layerSizes]);
  const linkRate = raw.linkRate ?? base.linkRate;
  const counts = raw.sweep ?? [raw.nodes ?? base.nodes];
  const idealSeconds = layerSizes.reduce((a, b) => a + b, 0) / linkRate;
  if (new Set(raw.policy).size !== raw.policy.length) throw new ConfigError('--policy: name each policy once');
  const runs = raw.policy.flatMap((policy) => counts.map((nodes) => ({
    nodes,
    policy,
    layerSizes,
    linkRate,
    seeds: raw.seeds ?? base.seeds,
    seedRate: raw.seedRate ?? linkRate,
    originRate: raw.originRate ?? linkRate,
    latencyMs: raw.pieceLatency,
    parents: raw.parents,
    piecesInFlight: raw.piecesInFlight,
    originFallback: raw.originFallback,
    uploadSlots: raw.uploadSlots,
    seedUploadSlots: raw.uploadSlots,
    uploadQueueMs: raw.uploadQueueMs,
    seedGroupSize: raw.seedGroupSize,
    stepMs: raw.timeStep,
    rngSeed: raw.rngSeed,
    timeLimitSeconds: 30 + 10 * idealSeconds,
  })));
  return { preset: raw.preset, runs, sweep: raw.sweep !== undefined, policies: raw.policy, outDir: raw.out ?? `${DEFAULT_OUT_PARENT}/sim-${timestamp(now)}` };
}

/** `20250102-030405`, sortable and safe in a path. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, '').replaceAll('-', '').replaceAll(':', '').replace('T', '-');
}
