import { spawn } from 'node:child_process';

/** What a finished client command (ctr, skopeo, …) did, for assertions and failure messages. */
export interface CommandResult {
  /** Exit code; -1 when the command was killed by a signal or the timeout. */
  code: number;
  stdout: string;
  /** stdout as raw bytes (for commands that print binary content, like `ctr content get`). */
  stdoutBytes: Buffer;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill the command (SIGKILL) after this long; a hung client must fail the test, not stall it (default 60 s). */
  timeoutMs?: number;
}

/** Runs a command to completion; never rejects on a non-zero exit, so tests can assert on failures. */
export function runCommand(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      const stdoutBytes = Buffer.concat(stdout);
      const durationMs = performance.now() - started;
      resolve({ code: code ?? -1, stdout: stdoutBytes.toString(), stdoutBytes, stderr, durationMs });
    });
  });
}

/** Like runCommand, but throws with the command's output when it exits non-zero. */
export async function runChecked(command: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  const result = await runCommand(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited ${result.code}:\n${result.stderr.slice(-4000)}${result.stdout.slice(-2000)}`);
  }
  return result;
}
