import {
  byteSize,
  defineOptions,
  duration,
  enumOf,
  hostPort,
  hostWithOptionalPort,
  int,
  listOption,
  loadConfig,
  logLevelOption,
  option,
  originTimeoutOptions,
  string,
  swarmKeyFileOption,
  xdgDataDir,
  type ConfigOf,
} from '@flotilla/config';
import { multiaddrParser, peerIdParser } from '@flotilla/p2p/multiaddr-option';
import { DEFAULT_SEED_GROUP_SIZE } from './parents/seed-group.ts';

/** The seed's --upload-queue-time: its pieces are the swarm's first copies, worth a longer wait than a daemon's. */
export const DEFAULT_SEED_UPLOAD_QUEUE_MS = 1_000;

/** Every knob of the scheduler. Flag names are the public interface (README table, YAML keys, env vars). */
export const schedulerOptions = defineOptions({
  p2pListen: option({
    flag: 'p2p-listen',
    parser: multiaddrParser(),
    default: '/ip4/0.0.0.0/tcp/65003',
    doc: 'libp2p address daemons reach the scheduler on (scheduling calls and the seed\'s pieces)',
  }),
  bootstrap: listOption({
    flag: 'bootstrap',
    parser: multiaddrParser({ hostPort: true }),
    doc: 'a peer to join the DHT through, e.g. another scheduler (HOST:PORT or a multiaddr; a name is resolved to all its addresses); retried while unreachable',
  }),
  trustedSchedulers: listOption({
    flag: 'trust-scheduler',
    parser: peerIdParser(),
    doc: 'another scheduler whose signed task meta daemons may report (e.g. it seeded a blob while this one was down): this scheduler then hands the blob out without seeding it',
  }),
  httpListen: option({
    flag: 'http-listen',
    parser: hostPort(),
    default: { host: '127.0.0.1', port: 65004 },
    doc: 'address of the HTTP status endpoints (/healthz, /tasks, /hosts)',
  }),
  dataDir: option({
    flag: 'data-dir',
    parser: string({ metavar: 'DIR' }),
    default: xdgDataDir('flotilla-scheduler'),
    defaultText: '$XDG_DATA_HOME/flotilla-scheduler or ~/.local/share/flotilla-scheduler',
    doc: 'where seeded blobs and the scheduler\'s libp2p identity are kept',
  }),
  insecureRegistries: listOption({
    flag: 'insecure-registry',
    parser: hostWithOptionalPort(),
    doc: 'reach this registry over plain http instead of https when seeding',
  }),
  parents: option({
    flag: 'parents',
    parser: int({ min: 1, max: 32 }),
    default: 4,
    doc: 'parents handed to a daemon per blob',
  }),
  parentPolicy: option({
    flag: 'parent-policy',
    parser: enumOf(['seed-group', 'load-aware']),
    default: 'seed-group',
    doc: 'how parents are chosen: seed-group = the seed feeds the first --seed-group-size children of a blob and the rest are spread evenly over the others (see scheduler/src/parents/seed-group.ts); load-aware = the seed is handed to every child while few others hold pieces (the policy before; slower in large bursts)',
  }),
  seedGroupSize: option({
    flag: 'seed-group-size',
    parser: int({ min: 1, max: 256 }),
    default: DEFAULT_SEED_GROUP_SIZE,
    doc: 'seed-group policy: children of a blob that get the seed as a parent (they pass its pieces on to everyone else)',
  }),
  uploadSlots: option({
    flag: 'upload-slots',
    parser: int({ min: 1 }),
    default: 200,
    doc: 'pieces the seed serves at once; more requests are answered busy',
  }),
  uploadQueueMs: option({
    flag: 'upload-queue-time',
    parser: duration({ min: 1 }),
    default: DEFAULT_SEED_UPLOAD_QUEUE_MS,
    doc: 'a piece request that would wait longer than this for the seed\'s upload link is answered busy (keep it below the daemons\' --piece-timeout)',
  }),
  uploadRate: option({
    flag: 'upload-rate',
    parser: byteSize(),
    default: 0,
    doc: 'bytes per second of the seed\'s piece uploads (0 = unlimited)',
  }),
  downloadRate: option({
    flag: 'download-rate',
    parser: byteSize(),
    default: 0,
    doc: 'bytes per second of the seed\'s origin downloads (0 = unlimited)',
  }),
  hostTtlMs: option({
    flag: 'host-ttl',
    parser: duration({ min: 1 }),
    default: 30_000,
    doc: 'a daemon silent for this long is dropped and no longer handed out as a parent',
  }),
  swarmKeyFile: swarmKeyFileOption,
  ...originTimeoutOptions,
  logLevel: logLevelOption,
});

export type SchedulerConfig = ConfigOf<typeof schedulerOptions>;

/** Defaults < YAML (`--config` / FLOTILLA_CONFIG) < FLOTILLA_* env < flags; throws ConfigError naming the culprit. */
export function loadSchedulerConfig(argv: string[], env: NodeJS.ProcessEnv): SchedulerConfig {
  return loadConfig(schedulerOptions, { argv, env });
}
