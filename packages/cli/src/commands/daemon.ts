import { startDaemon, daemonOptions, loadDaemonConfig } from '@flotilla/daemon';
import { serviceCommand } from '../service-command.ts';

export const daemonCommand = serviceCommand({
  name: 'daemon',
  summary: 'Runs the node daemon: the OCI registry mirror that caches images for the clients on this node.',
  options: daemonOptions,
  load: loadDaemonConfig,
  start: startDaemon,
  listenOptions: '--mirror-listen / --p2p-listen',
});
