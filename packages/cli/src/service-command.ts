import type { OptionSchema } from '@flotilla/config';
import { createLogger, type LogLevel, type Logger } from '@flotilla/log';
import { ExitCode, type Command } from './command.ts';

/** A long-running component (daemon, scheduler): start it, run until SIGINT/SIGTERM, stop it cleanly. */
export interface ServiceSpec<C extends { logLevel: LogLevel }> {
  name: string;
  summary: string;
  options: OptionSchema;
  load(argv: string[], env: NodeJS.ProcessEnv): C;
  start(config: C, logger: Logger): Promise<{ stop(): Promise<void> }>;
  /** Which options to change when the address is taken, for the startup error. */
  listenOptions: string;
}

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export function serviceCommand<C extends { logLevel: LogLevel }>(spec: ServiceSpec<C>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    options: spec.options,
    async run(argv, env) {
      const config = spec.load(argv, env);
      const logger = createLogger({ name: spec.name, level: config.logLevel });
      let running: { stop(): Promise<void> };
      try {
        running = await spec.start(config, logger);
      } catch (err) {
        process.stderr.write(`flotilla ${spec.name}: cannot start: ${startupProblem(err, spec.listenOptions)}\n`);
        return ExitCode.failure;
      }
      const signal = await nextSignal();
      logger.info({ signal }, 'stopping');
      // A second signal while stopping means "now": do not make an operator wait for a stuck shutdown.
      void nextSignal().then(() => process.exit(ExitCode.failure));
      await running.stop();
      return ExitCode.ok;
    },
  };
}

function nextSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      for (const s of STOP_SIGNALS) process.off(s, onSignal);
      resolve(signal);
    };
    for (const s of STOP_SIGNALS) process.on(s, onSignal);
  });
}

/** One line that says what went wrong and, where it is obvious, which option to change. */
function startupProblem(err: unknown, listenOptions: string): string {
  const { code, message } = err as NodeJS.ErrnoException;
  const firstLine = String(message ?? err).split('\n')[0] ?? '';
  if (code === 'EADDRINUSE') return `${firstLine} (already running? pick a free ${listenOptions} address)`;
  if (code === 'EACCES' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') return `${firstLine} (check --data-dir)`;
  return firstLine;
}
