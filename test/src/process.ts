import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';

/** A child process started by a test, with its output kept for failure messages. */
export interface Service {
  readonly child: ChildProcess;
  /** Everything the process printed so far (stdout and stderr interleaved). */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once; resolves when the process has exited. */
  kill(): Promise<void>;
}

export interface StartOptions extends SpawnOptions {
  /** Resolve once a line of output matches; the match is returned. */
  ready?: RegExp;
  /** How long to wait for `ready` before failing (default 20 s). */
  readyTimeoutMs?: number;
}

const running = new Set<Service>();

/** Starts a command; if `ready` is given, waits for a matching output line (fails fast if the process exits). */
export async function startService(
  command: string,
  args: string[],
  options: StartOptions = {},
): Promise<{ service: Service; match: RegExpMatchArray | null }> {
  const { ready, readyTimeoutMs = 20_000, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  let output = '';
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const service: Service = {
    child,
    output: () => output,
    async stop(graceMs = 5_000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(service);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
      running.delete(service);
    },
  };
  running.add(service);
  const matched = new Promise<RegExpMatchArray | null>((resolve, reject) => {
    if (!ready) return resolve(null);
    const timer = setTimeout(
      () => reject(new Error(`${command} not ready after ${readyTimeoutMs} ms:\n${output.slice(-4000)}`)),
      readyTimeoutMs,
    );
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = output.match(ready);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${code ?? signal}) before ready:\n${output.slice(-4000)}`));
    });
  });
  if (!ready) {
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  }
  // Keep collecting output after ready for failure messages (bounded to the last 1 MiB).
  child.stdout?.on('data', () => {
    if (output.length > 1 << 20) output = output.slice(-(1 << 19));
  });
  try {
    return { service, match: await matched };
  } catch (err) {
    await service.kill();
    throw err;
  }
}

/**
 * `command args` run through a prefix such as `ip netns exec NS` (which execs, so the pid and signals are the
 * command's own); no prefix: the command as it is.
 */
export function prefixedCommand(prefix: readonly string[] | undefined, command: string, args: string[]): { command: string; args: string[] } {
  const [first, ...rest] = [...(prefix ?? []), command, ...args];
  return { command: first!, args: rest };
}

/** Stops every service still running (afterAll safety net). */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for programs that cannot take port 0). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (typeof address !== 'object' || !address) return reject(new Error('no address'));
      server.close(() => resolve(address.port));
    });
  });
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 25): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`condition not met within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}
