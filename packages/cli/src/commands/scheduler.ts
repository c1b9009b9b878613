import { loadSchedulerConfig, schedulerOptions, startScheduler } from '@flotilla/scheduler';
import { serviceCommand } from '../service-command.ts';

export const schedulerCommand = serviceCommand({
  name: 'scheduler',
  summary: 'Runs the scheduler: seeds each blob once from the origin and tells daemons which peers to fetch pieces from.',
  options: schedulerOptions,
  load: loadSchedulerConfig,
  start: startScheduler,
  listenOptions: '--http-listen / --p2p-listen',
});
