import type { Command } from '../command.ts';

/**
 * Every `flotilla` subcommand, in the order `flotilla --help` lists them, loaded on use: a daemon does not load (and
 * type-strip) the scheduler's and the benchmarks' code, which kept ~18 MB of memory for nothing.
 */
export const commandLoaders: ReadonlyMap<string, () => Promise<Command>> = new Map([
  ['daemon', async () => (await import('./daemon.ts')).daemonCommand],
  ['scheduler', async () => (await import('./scheduler.ts')).schedulerCommand],
  ['bench', async () => (await import('./bench.ts')).benchCommand],
]);

export function loadAllCommands(): Promise<Command[]> {
  return Promise.all([...commandLoaders.values()].map((load) => load()));
}
