import type { OptionSchema } from '@flotilla/config';

/** Process exit codes of every command. */
export const ExitCode = {
  ok: 0,
  /** Started, but could not do its job (port in use, unwritable data dir, ...). */
  failure: 1,
  /** Bad command line, env var or config file: nothing was started. */
  usage: 2,
} as const;

/** One `flotilla <name>` subcommand; add it to the table in commands/index.ts. */
export interface Command {
  readonly name: string;
  /** One line for `flotilla --help`. */
  readonly summary: string;
  /** Subcommand names (`bench fanout`): `flotilla <name> <sub> --help` is then left to the command. */
  readonly subcommands?: readonly string[];
  /** What `flotilla <name> --help` and the README's options table list. */
  readonly options: OptionSchema;
  /**
   * Runs with the arguments after the command name and resolves to the exit code.
   * A ConfigError it throws is reported by the dispatcher as a usage error (exit 2).
   */
  run(argv: string[], env: NodeJS.ProcessEnv): Promise<number>;
}
