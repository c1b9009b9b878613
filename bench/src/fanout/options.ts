import { fileURLToPath } from 'node:url';
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

/** Every way N nodes can get the image. */
export const MODES = ['direct', 'central', 'p2p', 'p2p-dht'] as const;
export type ModeName = (typeof MODES)[number];

export const CLIENTS = ['daemon', 'containerd'] as const;
/** What pulls on each node: an HTTP client of the bench, or a real containerd (`ctr content fetch`). */
export type ClientKind = (typeof CLIENTS)[number];

export const LINKS = ['ratelimit', 'netns'] as const;
/** How links are emulated: token buckets in user space, or the kernel (network namespaces, tc). */
export type LinkKind = (typeof LINKS)[number];

const MIN_LAYER = 2 ** 10;
// Layers are made with crypto.randomBytes and pushed from memory: one buffer stops at 2^31 - 1 bytes.
const MAX_LAYER = 2 ** 31 - 1;
const layerSize = byteSize({ min: MIN_LAYER });

/** `SIZE,SIZE,...`: one entry per layer, each parsed like `--image-size`. */
function layerList(): ValueParser<number[]> {
  const expected = `comma-separated sizes such as 200MiB,56MiB, each from 1KiB to ${MAX_LAYER} bytes`;
  return {
    metavar: 'SIZE,SIZE...',
    expected,
    parse(raw) {
      const items = raw.split(',').map((item) => item.trim());
      if (items.some((item) => item === '')) throw new InvalidValue(expected);
      return items.map((item) => {
        const bytes = layerSize.parse(item);
        if (bytes > MAX_LAYER) throw new InvalidValue(expected);
        return bytes;
      });
    },
    format: (sizes) => sizes.map((s) => layerSize.format(s)).join(','),
  };
}

/** `0.5%` or `0.5`: a share of packets from 0 to 100 percent. */
function percent(): ValueParser<number> {
  const expected = 'a percentage from 0 to 100, such as 0.1%';
  return {
    metavar: 'PERCENT',
    expected,
    parse(raw) {
      const m = /^(\d+(?:\.\d+)?)%?$/.exec(raw.trim());
      const value = Number(m?.[1]);
      if (!m || !(value >= 0 && value <= 100)) throw new InvalidValue(expected);
      return value;
    },
    format: (value) => `${value}%`,
  };
}

/** `direct,central,p2p`: known mode names, no repeats. */
function modeList(): ValueParser<ModeName[]> {
  const one = enumOf(MODES);
  const expected = `a comma-separated list of ${MODES.join(', ')}`;
  return {
    metavar: 'MODE,MODE...',
    expected,
    parse(raw) {
      const modes = raw.split(',').map((item) => item.trim());
      const parsed = modes.map((mode) => {
        try {
          return one.parse(mode);
        } catch {
          throw new InvalidValue(expected);
        }
      });
      if (new Set(parsed).size !== parsed.length) throw new InvalidValue(`${expected}, each once`);
      return parsed;
    },
    format: (modes) => modes.join(','),
  };
}

const DEFAULT_IMAGE_SIZE = 256 * 2 ** 20;
/** --client containerd runs one containerd (~40 MB) per node: a bound that two cores and the memory here hold. */
const MAX_CONTAINERD_NODES = 50;
const DEFAULT_OUT_PARENT = fileURLToPath(new URL('../../out', import.meta.url));

/** The flags of `flotilla bench fanout`; names are the public interface (other checks run them). */
export const fanoutOptions = defineOptions({
  nodes: option({ flag: 'nodes', parser: int({ min: 1, max: 200 }), default: 10, doc: 'nodes pulling the image at once' }),
  imageSize: optionalOption({
    flag: 'image-size',
    parser: byteSize({ min: MIN_LAYER }),
    doc: 'one-layer image of this size (default 256MiB); or give --layers',
  }),
  layers: optionalOption({ flag: 'layers', parser: layerList(), doc: 'the image\'s layer sizes, instead of --image-size' }),
  linkRate: option({
    flag: 'link-rate',
    parser: byteSize({ min: 1 }),
    default: 20_000_000,
    defaultText: '20MB',
    doc: 'bytes per second of every node\'s link, the origin\'s and the seed\'s included (20MB = 20·10⁶ B/s)',
  }),
  modes: option({
    flag: 'modes',
    parser: modeList(),
    default: ['direct', 'central', 'p2p'],
    doc: 'what to compare: direct (every node from the origin), central (one pull-through mirror), p2p (scheduler + daemons), p2p-dht (daemons only, finding each other in their DHT)',
  }),
  out: optionalOption({
    flag: 'out',
    parser: string({ metavar: 'DIR' }),
    doc: 'where results.json, report.md and the SVG charts go (default bench/out/fanout-<timestamp>)',
  }),
  repeat: option({ flag: 'repeat', parser: int({ min: 1, max: 20 }), default: 1, doc: 'runs per mode, on fresh processes; medians are reported' }),
  client: option({
    flag: 'client',
    parser: enumOf(CLIENTS),
    default: 'daemon',
    doc: 'what pulls on each node: daemon = an HTTP client fetching manifest and blobs through the node\'s endpoint; containerd = a containerd per node, `ctr content fetch` through the node\'s endpoint as its hosts.toml mirror',
  }),
  link: option({
    flag: 'link',
    parser: enumOf(LINKS),
    default: 'ratelimit',
    doc: 'link emulation: ratelimit = token buckets (the daemons\' own rate limits and a throttling proxy), no root needed; netns = every host in its own network namespace on a bridge, shaped by tc (needs root)',
  }),
  latency: optionalOption({
    flag: 'latency',
    parser: duration(),
    doc: 'one-way delay between any two hosts (netem on every host\'s uplink; needs --link netns and a kernel with netem)',
  }),
  loss: optionalOption({
    flag: 'loss',
    parser: percent(),
    doc: 'share of packets lost between any two hosts (dropped as they arrive at the receiving host; needs --link netns)',
  }),
  killSchedulerAt: optionalOption({
    flag: 'kill-scheduler-at',
    parser: percent(),
    doc: 'p2p mode: SIGKILL the scheduler (the seed too) once this share of all the nodes\' bytes has arrived, e.g. 33%: the daemons carry on among themselves',
  }),
});

/** A validated fan-out run. */
export interface FanoutOptions {
  nodes: number;
  /** Sizes of the image's layers in bytes (one for --image-size). */
  layerSizes: number[];
  /** Bytes per second of every link. */
  linkRate: number;
  modes: ModeName[];
  outDir: string;
  repeat: number;
  client: ClientKind;
  link: LinkKind;
  /** One-way delay added between any two hosts, in ms (netns only). */
  latencyMs?: number;
  /** Percent of packets lost between any two hosts (netns only). */
  lossPercent?: number;
  /** p2p: the scheduler is killed once this percent of every node's bytes together has arrived. */
  killSchedulerAtPercent?: number;
}

/** Parses and checks the flags (defaults < --config file < FLOTILLA_* env < flags); throws ConfigError naming the flag. */
export function loadFanoutOptions(argv: readonly string[], env: NodeJS.ProcessEnv, now = new Date()): FanoutOptions {
  const raw = loadConfig(fanoutOptions, { argv, env });
  if (raw.imageSize !== undefined && raw.layers !== undefined) throw new ConfigError('give --image-size or --layers, not both');
  if (raw.imageSize !== undefined && raw.imageSize > MAX_LAYER) {
    throw new ConfigError(`--image-size ${layerSize.format(raw.imageSize)}: one layer holds at most ${MAX_LAYER} bytes; use --layers for a larger image`);
  }
  if (raw.client === 'containerd' && raw.nodes > MAX_CONTAINERD_NODES) {
    throw new ConfigError(`--nodes ${raw.nodes} with --client containerd: at most ${MAX_CONTAINERD_NODES} (a containerd per node)`);
  }
  if (raw.link !== 'netns') {
    // Token buckets shape bandwidth only: a delay or loss asked for would silently not happen.
    if (raw.latency !== undefined) throw new ConfigError(`--latency needs --link netns (--link ${raw.link} emulates bandwidth only)`);
    if (raw.loss !== undefined) throw new ConfigError(`--loss needs --link netns (--link ${raw.link} emulates bandwidth only)`);
  }
  return {
    nodes: raw.nodes,
    layerSizes: raw.layers ?? [raw.imageSize ?? DEFAULT_IMAGE_SIZE],
    linkRate: raw.linkRate,
    modes: raw.modes,
    outDir: raw.out ?? `${DEFAULT_OUT_PARENT}/fanout-${timestamp(now)}`,
    repeat: raw.repeat,
    client: raw.client,
    link: raw.link,
    ...(raw.latency === undefined ? {} : { latencyMs: raw.latency }),
    ...(raw.loss === undefined ? {} : { lossPercent: raw.loss }),
    ...(raw.killSchedulerAt === undefined ? {} : { killSchedulerAtPercent: raw.killSchedulerAt }),
  };
}

/** `20250102-030405`, sortable and safe in a path. */
function timestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, '').replaceAll('-', '').replaceAll(':', '').replace('T', '-');
}
