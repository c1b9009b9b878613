import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };
/** The levels every component's `--log-level` accepts. */
export type LogLevel = LevelWithSilent;

/** Options for the process-wide JSON logger. */
export interface LoggerOptions {
  /** Component name put on every line (`daemon`, `scheduler`, ...). */
  name: string;
  level?: LevelWithSilent;
  /** Where lines go; defaults to stdout. Tests pass a file descriptor or a stream. */
  destination?: number | NodeJS.WritableStream;
}

/** One JSON object per line, as the guide asks; pino writes asynchronously so logging stays off the hot path. */
export function createLogger(options: LoggerOptions): Logger {
  const destination =
    typeof options.destination === 'object'
      ? options.destination
      : pino.destination({ dest: options.destination ?? 1, sync: false });
  return pino(
    { name: options.name, level: options.level ?? 'info', base: { pid: process.pid } },
    destination as pino.DestinationStream,
  );
}

/** A logger that drops everything (unit tests of libraries). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
