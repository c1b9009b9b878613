import { createLogger } from '@flotilla/log';
import { loadSchedulerConfig, schedulerOptions, startScheduler, type RunningScheduler } from '@flotilla/scheduler';
import { ExitCode, type Command } from '../command.ts';

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export const schedulerCommand: Command = {
  name: 'scheduler',
  summary: 'Runs the scheduler: seeds each blob once from the origin and tells daemons which peers to fetch pieces from.',
  options: schedulerOptions,
  async run(argv, env) {
    const config = loadSchedulerConfig(argv, env);
    const logger = createLogger({ name: 'scheduler', level: config.logLevel });
    let scheduler: RunningScheduler;
    try {
      scheduler = await startScheduler(config, logger);
    } catch (err) {
      process.stderr.write(`flotilla scheduler: cannot start: ${startupProblem(err)}\n`);
      return ExitCode.failure;
    }
    const signal = await nextSignal();
    logger.info({ signal }, 'stopping');
    // A second signal while stopping means "now".
    void nextSignal().then(() => process.exit(ExitCode.failure));
    await scheduler.stop();
    return ExitCode.ok;
  },
};

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
function startupProblem(err: unknown): string {
  const { code, message } = err as NodeJS.ErrnoException;
  const firstLine = String(message ?? err).split('\n')[0] ?? '';
  if (code === 'EADDRINUSE') return `${firstLine} (pick a free --http-listen or --p2p-listen address)`;
  if (code === 'EACCES' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') return `${firstLine} (check --data-dir)`;
  return firstLine;
}
