import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked, runCommand, type CommandResult } from './command.ts';
import { prefixedCommand, startService, waitFor, type Service } from './process.ts';

/** A private containerd daemon with its own root, state and socket in a temp dir. */
export interface Containerd {
  /** The gRPC socket, for `ctr --address`. */
  address: string;
  root: string;
  service: Service;
  /** Stops containerd and removes its temp dir. */
  stop(): Promise<void>;
}

// Only content, metadata and one snapshotter are needed to fetch content; everything that wants root
// features (CRI, runtimes, cgroups, overlay/btrfs/zfs/devmapper) is off so containerd starts in ~50 ms.
const DISABLED_PLUGINS = [
  'io.containerd.grpc.v1.cri',
  'io.containerd.snapshotter.v1.aufs',
  'io.containerd.snapshotter.v1.btrfs',
  'io.containerd.snapshotter.v1.devmapper',
  'io.containerd.snapshotter.v1.zfs',
  'io.containerd.snapshotter.v1.overlayfs',
  'io.containerd.internal.v1.opt',
  'io.containerd.internal.v1.restart',
  'io.containerd.internal.v1.tracing',
  'io.containerd.tracing.processor.v1.otlp',
  'io.containerd.runtime.v1.linux',
  'io.containerd.runtime.v2.task',
  'io.containerd.monitor.v1.cgroups',
  'io.containerd.service.v1.tasks-service',
  'io.containerd.grpc.v1.tasks',
  'io.containerd.grpc.v1.containers',
  'io.containerd.nri.v1.nri',
];

/** The namespace test fetches go to. */
const NAMESPACE = 'test';

export interface ContainerdOptions {
  /** Run containerd through this prefix, e.g. `ip netns exec NS`: its registry traffic then leaves from there. */
  commandPrefix?: string[];
}

/** Starts containerd on a temp dir and waits until `ctr version` reaches it. */
export async function startContainerd(options: ContainerdOptions = {}): Promise<Containerd> {
  const dir = await mkdtemp(join(tmpdir(), 'flotilla-containerd-'));
  const address = join(dir, 'containerd.sock');
  const root = join(dir, 'root');
  const config = [
    'version = 2',
    `root = ${JSON.stringify(root)}`,
    `state = ${JSON.stringify(join(dir, 'state'))}`,
    `disabled_plugins = ${JSON.stringify(DISABLED_PLUGINS)}`,
    '[grpc]',
    `  address = ${JSON.stringify(address)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${address}.ttrpc`)}`,
    '[debug]',
    `  address = ${JSON.stringify(join(dir, 'debug.sock'))}`,
    '',
  ].join('\n');
  const configPath = join(dir, 'config.toml');
  await writeFile(configPath, config);
  const { command, args } = prefixedCommand(options.commandPrefix, 'containerd', ['--config', configPath]);
  const { service } = await startService(command, args);
  try {
    await waitFor(async () => (await runCommand('ctr', ['--address', address, 'version'], { timeoutMs: 5_000 })).code === 0, 20_000);
  } catch (err) {
    await service.kill();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`containerd did not come up: ${String(err)}\n${service.output().slice(-4000)}`);
  }
  return {
    address,
    root,
    service,
    async stop() {
      await service.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface CtrFetchOptions {
  /** The hosts dir containerd resolves registries through (see writeHostsDir). */
  hostsDir: string;
  /** `user:password` for the registry. */
  user?: string;
  /** Fetch one platform (`linux/arm64`) or all of them. */
  platform?: string;
  allPlatforms?: boolean;
  timeoutMs?: number;
  /** Run ctr through this prefix, e.g. `ip netns exec NS`: ctr itself makes the registry requests, not containerd. */
  commandPrefix?: string[];
}

/** `ctr content fetch REF` into the test namespace; resolves with the outcome, never throws on failure. */
export function ctrFetch(containerd: Containerd, ref: string, options: CtrFetchOptions): Promise<CommandResult> {
  const args = ['--address', containerd.address, '-n', NAMESPACE, 'content', 'fetch', '--hosts-dir', options.hostsDir];
  if (options.user) args.push('--user', options.user);
  if (options.platform) args.push('--platform', options.platform);
  if (options.allPlatforms) args.push('--all-platforms');
  args.push(ref);
  const command = prefixedCommand(options.commandPrefix, 'ctr', args);
  return runCommand(command.command, command.args, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
}

/** The bytes containerd stored for a digest (`ctr content get`); throws when it has none. */
export async function ctrContentGet(containerd: Containerd, digest: string): Promise<Buffer> {
  const result = await runChecked('ctr', ['--address', containerd.address, '-n', NAMESPACE, 'content', 'get', digest]);
  return result.stdoutBytes;
}

export interface HostsConfig {
  /** The origin registry, `host:port` (plain HTTP). */
  server: string;
  /** The mirror, `host:port` (plain HTTP), tried first for pull and resolve. */
  mirror: string;
}

/** Writes `DIR/<server>/hosts.toml` sending pulls of `server` through `mirror` (shared/notes/clients.md). */
export async function writeHostsDir(dir: string, config: HostsConfig): Promise<string> {
  const registryDir = join(dir, config.server);
  await mkdir(registryDir, { recursive: true });
  const toml = [
    `server = ${JSON.stringify(`http://${config.server}`)}`,
    '',
    `[host.${JSON.stringify(`http://${config.mirror}`)}]`,
    '  capabilities = ["pull", "resolve"]',
    '',
  ].join('\n');
  await writeFile(join(registryDir, 'hosts.toml'), toml);
  return dir;
}
