import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The CLI entry point, found relative to this file so the harness works from any checkout. */
export const CLI_MAIN = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));

/**
 * How to spawn `flotilla <args>` exactly as a user's shell would run it: Node 24 (this process's binary) with the
 * Node flags from the entry point's shebang, so tests and benchmarks measure the runtime users get.
 */
export function flotillaCommand(args: string[]): { command: string; args: string[] } {
  const shebang = readFileSync(CLI_MAIN, 'utf8').split('\n', 1)[0] ?? '';
  const nodeFlags = shebang.split(/\s+/).filter((word) => word.startsWith('--'));
  return { command: process.execPath, args: [...nodeFlags, CLI_MAIN, ...args] };
}
