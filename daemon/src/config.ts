import {
  bool,
  byteSize,
  defineOptions,
  duration,
  fileSection,
  hostPort,
  hostWithOptionalPort,
  int,
  listOption,
  loadConfig,
  logLevelOption,
  mapOption,
  option,
  optionalOption,
  originTimeoutOptions,
  string,
  struct,
  swarmKeyFileOption,
  xdgDataDir,
  type ConfigOf,
} from '@flotilla/config';
import { DEFAULT_BLOB_TRANSPORT, type BlobTransportTuning } from '@flotilla/origin';
import { multiaddrParser, peerIdParser } from '@flotilla/p2p/multiaddr-option';
import { isValidNameComponent } from '@flotilla/oci';

const registry = hostWithOptionalPort();

export const DEFAULT_P2P_LISTEN = '/ip4/0.0.0.0/tcp/65002';
/** A connected scheduler that is busy (seeding on a saturated link, CPU-bound) answers late but still answers. */
export const DEFAULT_SCHEDULER_ANSWER_TIMEOUT_MS = 10_000;
/**
 * A short queue: a child told `busy` asks another parent, where one that queued waited on a crowded parent while
 * others idled (bench sim, Kraken's test at 300 nodes with --upload-rate at the link rate: p99 1.51× at 1 s, 1.34×).
 */
export const DEFAULT_UPLOAD_QUEUE_MS = 100;

/** Every knob of the node daemon. Flag names are the public interface (README table, YAML keys, env vars). */
export const daemonOptions = defineOptions({
  mirrorListen: option({
    flag: 'mirror-listen',
    parser: hostPort(),
    default: { host: '127.0.0.1', port: 65001 },
    doc: 'address of the OCI registry mirror',
  }),
  dataDir: option({
    flag: 'data-dir',
    parser: string({ metavar: 'DIR' }),
    default: xdgDataDir('flotilla'),
    defaultText: '$XDG_DATA_HOME/flotilla or ~/.local/share/flotilla',
    doc: 'where cached content and metadata are stored',
  }),
  insecureRegistries: listOption({
    flag: 'insecure-registry',
    parser: registry,
    doc: 'reach this registry over plain http instead of https',
  }),
  defaultRegistry: option({
    flag: 'default-registry',
    parser: registry,
    default: 'docker.io',
    doc: 'registry for requests that name none (no ?ns= and no alias, e.g. docker); docker.io means registry-1.docker.io',
  }),
  registryAliases: mapOption({
    flag: 'registry-alias',
    keyName: 'NAME',
    key: string({ check: isValidNameComponent, expected: 'a lowercase path component ([a-z0-9] joined by . _ -)' }),
    value: registry,
    doc: 'a first path segment NAME stands for this registry (for skopeo/podman, which cannot send ?ns=); HOST-PORT such as 127.0.0.1-5000 is always understood',
  }),
  allowedRegistries: listOption({
    flag: 'allow-registry',
    parser: registry,
    doc: 'reach only these registries (and the configured ones); none given = any registry; link-local and metadata addresses are always denied',
  }),
  registries: fileSection({
    flag: 'registries',
    key: registry,
    entry: struct({
      insecure: bool(),
      'ca-file': string({ metavar: 'FILE' }),
      username: string(),
      password: string(),
    }),
    doc: 'per-registry settings keyed by HOST[:PORT]: plain http, a CA bundle to trust, credentials',
  }),
  dockerConfig: optionalOption({
    flag: 'docker-config',
    parser: string({ metavar: 'FILE' }),
    doc: 'docker config.json to read registry credentials from',
  }),
  ...originTimeoutOptions,
  originKeepAliveMs: option({
    flag: 'origin-keep-alive',
    parser: duration({ min: 1 }),
    default: DEFAULT_BLOB_TRANSPORT.keepAliveMs,
    doc: 'keep an unused connection to an origin this long for the next blob download',
  }),
  originIdleConnections: option({
    flag: 'origin-idle-connections',
    parser: int({ min: 0 }),
    default: DEFAULT_BLOB_TRANSPORT.idleConnectionsPerOrigin,
    doc: 'unused connections kept per origin for blob downloads (0 = a new connection per blob)',
  }),
  originReadAheadBytes: option({
    flag: 'origin-read-ahead',
    parser: byteSize({ min: 64 * 2 ** 10 }),
    default: DEFAULT_BLOB_TRANSPORT.readAheadBytes,
    doc: 'blob bytes read from an origin ahead of the store before its connection waits',
  }),
  originPooledBuffers: option({
    flag: 'origin-pooled-buffers',
    parser: int({ min: 0 }),
    default: DEFAULT_BLOB_TRANSPORT.pooledSlabs,
    doc: '1 MiB receive buffers of blob downloads kept for reuse (idle memory, fewer page faults)',
  }),
  originWriteBatchBytes: option({
    flag: 'origin-write-batch',
    parser: byteSize({ min: 64 * 2 ** 10 }),
    default: 2 ** 20,
    doc: 'blob bytes from an origin gathered into one file write',
  }),
  originWritesInFlight: option({
    flag: 'origin-writes-in-flight',
    parser: int({ min: 1, max: 64 }),
    default: 4,
    doc: 'file writes of one origin blob under way at once (one at a time caps near 0.5 GB/s; each holds its bytes in memory)',
  }),
  staleManifestWindowMs: option({
    flag: 'stale-manifest-window',
    parser: duration(),
    default: 3_600_000,
    doc: 'when the origin is down, serve the last tag resolution if it is younger than this (0 = never)',
  }),
  maxManifestBytes: option({
    flag: 'max-manifest-size',
    parser: byteSize({ min: 1 }),
    default: 4 * 2 ** 20,
    doc: 'refuse manifests larger than this',
  }),
  p2pListen: optionalOption({
    flag: 'p2p-listen',
    parser: multiaddrParser(),
    doc: `libp2p address other daemons fetch pieces from (default ${DEFAULT_P2P_LISTEN} when P2P is on); setting it turns P2P on`,
  }),
  schedulers: listOption({
    flag: 'scheduler',
    parser: multiaddrParser({ hostPort: true }),
    doc: 'the scheduler to ask for blobs (HOST:PORT or a multiaddr; its peer id is learnt on connect); turns P2P on',
  }),
  bootstrap: listOption({
    flag: 'bootstrap',
    parser: multiaddrParser({ hostPort: true }),
    doc: 'a peer to join the DHT through, besides the schedulers (HOST:PORT or a multiaddr; a name is resolved to all its addresses, e.g. a headless Service); retried while unreachable; turns P2P on',
  }),
  dhtLookupTimeoutMs: option({
    flag: 'dht-lookup-timeout',
    parser: duration({ min: 1 }),
    default: 100,
    doc: 'with no scheduler reachable, how long a miss looks for providers in the DHT before going to the origin',
  }),
  trustedSchedulers: listOption({
    flag: 'trust-scheduler',
    parser: peerIdParser(),
    doc: 'accept piece digests other daemons pass on when this scheduler signed them; the configured schedulers are always trusted',
  }),
  reprovideIntervalMs: option({
    flag: 'reprovide-interval',
    parser: duration({ min: 1_000 }),
    default: 600_000,
    doc: 'how often the DHT provider records of cached blobs and manifests are renewed',
  }),
  zone: optionalOption({
    flag: 'zone',
    parser: string({ metavar: 'NAME' }),
    doc: 'failure/network zone of this node; the scheduler prefers parents in the same zone',
  }),
  uploadSlots: option({
    flag: 'upload-slots',
    parser: int({ min: 1 }),
    default: 200,
    doc: 'pieces served to other daemons at once; more requests are answered busy',
  }),
  uploadQueueMs: option({
    flag: 'upload-queue-time',
    parser: duration({ min: 1 }),
    default: DEFAULT_UPLOAD_QUEUE_MS,
    doc: 'a piece request that would wait longer than this for the upload link is answered busy (keep it below --piece-timeout)',
  }),
  uploadRate: option({
    flag: 'upload-rate',
    parser: byteSize(),
    default: 0,
    doc: 'bytes per second of piece uploads (0 = unlimited)',
  }),
  downloadRate: option({
    flag: 'download-rate',
    parser: byteSize(),
    default: 0,
    doc: 'bytes per second of piece downloads and origin traffic together (0 = unlimited)',
  }),
  piecesInFlight: option({
    flag: 'pieces-in-flight',
    parser: int({ min: 1, max: 64 }),
    default: 8,
    doc: 'pieces requested from parents at once, shared by the blobs being fetched (at least 2 each)',
  }),
  pieceTimeoutMs: option({
    flag: 'piece-timeout',
    parser: duration({ min: 1 }),
    default: 2_000,
    doc: 'a piece whose bytes stop arriving for this long is requested from another parent or the origin',
  }),
  schedulerTimeoutMs: option({
    flag: 'scheduler-timeout',
    parser: duration({ min: 1 }),
    default: 1_000,
    doc: 'go to the origin when no connection to the scheduler can be made within this long',
  }),
  schedulerAnswerTimeoutMs: option({
    flag: 'scheduler-answer-timeout',
    parser: duration({ min: 1 }),
    default: DEFAULT_SCHEDULER_ANSWER_TIMEOUT_MS,
    doc: 'go to the origin when a connected scheduler has not answered within this long (a busy scheduler is slow, not gone)',
  }),
  swarmKeyFile: swarmKeyFileOption,
  logLevel: logLevelOption,
});

export type DaemonConfig = ConfigOf<typeof daemonOptions>;

/** How the origin client keeps connections and memory for blob downloads, from the --origin-* knobs. */
export function blobTransportTuning(config: DaemonConfig): BlobTransportTuning {
  return {
    keepAliveMs: config.originKeepAliveMs,
    idleConnectionsPerOrigin: config.originIdleConnections,
    readAheadBytes: config.originReadAheadBytes,
    pooledSlabs: config.originPooledBuffers,
  };
}

/** Is the swarm (scheduler, DHT, piece exchange) in use, or only the origin? */
export function p2pEnabled(config: DaemonConfig): boolean {
  return config.schedulers.length > 0 || config.bootstrap.length > 0 || config.p2pListen !== undefined;
}

/** Defaults < YAML (`--config` / FLOTILLA_CONFIG) < FLOTILLA_* env < flags; throws ConfigError naming the culprit. */
export function loadDaemonConfig(argv: string[], env: NodeJS.ProcessEnv): DaemonConfig {
  return loadConfig(daemonOptions, { argv, env });
}
