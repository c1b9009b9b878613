import { startDaemon, daemonOptions, loadDaemonConfig, type RunningDaemon } from '@flotilla/daemon';
import { createLogger } from '@flotilla/log';
import { ExitCode, type Command } from '../command.ts';

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];

export const daemonCommand: Command = {
  name: 'daemon',
  summary: 'Runs the node daemon: the OCI registry mirror that caches images for the clients on this node.',
  options: daemonOptions,
  async run(argv, env) {
    const config = loadDaemonConfig(argv, env);
    const logger = createLogger({ name: 'daemon', level: config.logLevel });
    let daemon: RunningDaemon;
    try {
      daemon = await startDaemon(config, logger);
    } catch (err) {
      process.stderr.write(`flotilla daemon: cannot start: ${startupProblem(err)}\n`);
      return ExitCode.failure;
    }
    const signal = await nextSignal();
    logger.info({ signal }, 'stopping');
    // A second signal while stopping means "now": do not make an operator wait for a stuck shutdown.
    void nextSignal().then(() => process.exit(ExitCode.failure));
    await daemon.stop();
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
  if (code === 'EADDRINUSE') return `${firstLine} (another daemon running? pick a free --mirror-listen address)`;
  if (code === 'EACCES' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') return `${firstLine} (check --data-dir)`;
  return firstLine;
}
