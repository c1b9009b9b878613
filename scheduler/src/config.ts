import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  byteSize,
  defineOptions,
  duration,
  enumOf,
  hostPort,
  hostWithOptionalPort,
  int,
  InvalidValue,
  listOption,
  loadConfig,
  option,
  optionalOption,
  string,
  type ConfigOf,
  type Env,
  type ValueParser,
} from '@flotilla/config';
import { multiaddr } from '@multiformats/multiaddr';

/** A multiaddr such as `/ip4/0.0.0.0/tcp/65003`, normalized. */
function multiaddrParser(): ValueParser<string> {
  const expected = 'a multiaddr such as /ip4/0.0.0.0/tcp/65003';
  return {
    metavar: 'MULTIADDR',
    expected,
    parse(raw) {
      try {
        if (raw.startsWith('/')) return multiaddr(raw).toString();
      } catch {
        // reported below
      }
      throw new InvalidValue(expected);
    },
    format: (value) => value,
  };
}

/** Every knob of the scheduler. Flag names are the public interface (README table, YAML keys, env vars). */
export const schedulerOptions = defineOptions({
  p2pListen: option({
    flag: 'p2p-listen',
    parser: multiaddrParser(),
    default: '/ip4/0.0.0.0/tcp/65003',
    doc: 'libp2p address daemons reach the scheduler on (scheduling calls and the seed\'s pieces)',
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
    default: defaultDataDir,
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
  uploadSlots: option({
    flag: 'upload-slots',
    parser: int({ min: 1 }),
    default: 200,
    doc: 'pieces the seed serves at once; more requests are answered busy',
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
  swarmKeyFile: optionalOption({
    flag: 'swarm-key-file',
    parser: string({ metavar: 'FILE' }),
    doc: 'private-network key (libp2p pnet): only daemons with the same key can connect',
  }),
  originConnectTimeoutMs: option({
    flag: 'origin-connect-timeout',
    parser: duration({ min: 1 }),
    default: 5_000,
    doc: 'give up connecting to an origin registry after this long',
  }),
  originFirstByteTimeoutMs: option({
    flag: 'origin-first-byte-timeout',
    parser: duration({ min: 1 }),
    default: 15_000,
    doc: 'give up on an origin request whose response headers take longer than this',
  }),
  originIdleTimeoutMs: option({
    flag: 'origin-idle-timeout',
    parser: duration({ min: 1 }),
    default: 15_000,
    doc: 'abort an origin response body that stalls this long',
  }),
  logLevel: option({
    flag: 'log-level',
    parser: enumOf(['trace', 'debug', 'info', 'warn', 'error', 'silent']),
    default: 'info',
    doc: 'least severe log level written to stdout',
  }),
});

export type SchedulerConfig = ConfigOf<typeof schedulerOptions>;

/** Defaults < YAML (`--config` / FLOTILLA_CONFIG) < FLOTILLA_* env < flags; throws ConfigError naming the culprit. */
export function loadSchedulerConfig(argv: string[], env: NodeJS.ProcessEnv): SchedulerConfig {
  return loadConfig(schedulerOptions, { argv, env });
}

/** XDG base directory spec: `$XDG_DATA_HOME` only counts when absolute. Kept apart from a daemon's on the same node. */
function defaultDataDir(env: Env): string {
  const xdg = env.XDG_DATA_HOME;
  if (xdg?.startsWith('/')) return join(xdg, 'flotilla-scheduler');
  return join(env.HOME || homedir(), '.local', 'share', 'flotilla-scheduler');
}
