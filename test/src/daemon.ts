import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flotillaCommand } from './cli.ts';
import { prefixedCommand, startService, type Service } from './process.ts';

/** One JSON log line of the daemon (pino); request lines carry method, path, ns, digest, status, bytes, source, duration_ms. */
export type DaemonLogLine = Record<string, unknown> & { msg?: string };

export interface DaemonOptions {
  /** Extra CLI arguments after `daemon --mirror-listen 127.0.0.1:0 --data-dir D`. */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Reuse a data dir (e.g. to restart on it); otherwise a temp dir is made and removed on stop(). */
  dataDir?: string;
  readyTimeoutMs?: number;
  /** Run the daemon through this prefix, e.g. `ip netns exec NS` (its 127.0.0.1 is then the namespace's). */
  commandPrefix?: string[];
}

export interface FlotillaDaemon {
  /** `http://127.0.0.1:PORT` of the mirror. */
  url: string;
  /** `127.0.0.1:PORT`, for hosts.toml and registries.conf. */
  host: string;
  dataDir: string;
  service: Service;
  /** Every JSON line the daemon printed on stdout so far. */
  logs(): DaemonLogLine[];
  /** SIGTERM (then SIGKILL after a grace period); removes the data dir if the harness made it. */
  stop(): Promise<void>;
  /** SIGKILL, leaving the data dir as it is (for crash tests). */
  kill(): Promise<void>;
}

/** Starts `flotilla daemon` on an ephemeral loopback port and waits for its "mirror listening" log line. */
export async function startFlotillaDaemon(options: DaemonOptions = {}): Promise<FlotillaDaemon> {
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'flotilla-daemon-')));
  const { command, args } = flotillaCommand(['daemon', '--mirror-listen', '127.0.0.1:0', '--data-dir', dataDir, ...(options.args ?? [])]);
  const prefixed = prefixedCommand(options.commandPrefix, command, args);
  const { service, match } = await startService(prefixed.command, prefixed.args, {
    ready: /^.*"msg":"mirror listening".*$/m,
    readyTimeoutMs: options.readyTimeoutMs ?? 20_000,
    env: { ...process.env, ...options.env },
  });
  const readyLine = JSON.parse(match?.[0] ?? '{}') as DaemonLogLine;
  const host = readyLine['address'];
  if (typeof host !== 'string' || !/^127\.0\.0\.1:\d+$/.test(host)) {
    await service.kill();
    throw new Error(`"mirror listening" line has no 127.0.0.1:PORT address: ${match?.[0]}`);
  }
  const logs = collectJsonLines(service);
  return {
    url: `http://${host}`,
    host,
    dataDir,
    service,
    logs,
    async stop() {
      await service.stop();
      if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    },
    kill: () => service.kill(),
  };
}

/** The request log lines (those with a status) for one digest, or for every request when no digest is given. */
export function requestLogs(daemon: FlotillaDaemon, digest?: string): DaemonLogLine[] {
  return daemon
    .logs()
    .filter((line) => typeof line['status'] === 'number' && (digest === undefined || line['digest'] === digest));
}

/**
 * Parses the daemon's stdout into JSON lines. Output printed before this is attached (up to the ready line)
 * is taken from the service's buffer; later chunks are split on newlines, keeping a partial last line.
 */
function collectJsonLines(service: Service): () => DaemonLogLine[] {
  const lines: DaemonLogLine[] = [];
  const add = (text: string) => {
    if (!text.startsWith('{')) return; // stderr noise interleaved in the initial buffer
    try {
      lines.push(JSON.parse(text) as DaemonLogLine);
    } catch {
      // not a log line
    }
  };
  const initial = service.output().split('\n');
  let partial = initial.pop() ?? '';
  for (const text of initial) add(text);
  service.child.stdout?.on('data', (chunk: Buffer) => {
    const texts = (partial + chunk.toString()).split('\n');
    partial = texts.pop() ?? '';
    for (const text of texts) add(text);
  });
  return () => lines;
}
