import { fileURLToPath } from 'node:url';
import { prefixedCommand, startService, type Service } from '@flotilla/test';
import type { ThrottleProxyOptions, ThrottleStats } from './throttle-proxy.ts';

const MAIN = fileURLToPath(new URL('./throttle-proxy-main.ts', import.meta.url));

/** A throttle proxy running in its own process (see throttle-proxy-main.ts). */
export interface ThrottleProxyProcess {
  /** `HOST:PORT` of each link listener, in `linkRates` order. */
  linkHosts: string[];
  service: Service;
  stats(): Promise<ThrottleStats>;
  stop(): Promise<void>;
}

/** `commandPrefix` runs it elsewhere, e.g. `ip netns exec NS` (with `listenHost` an address of that namespace). */
export async function startThrottleProxyProcess(options: ThrottleProxyOptions, commandPrefix: string[] = []): Promise<ThrottleProxyProcess> {
  // This process's own binary: Node 24, which runs the .ts entry by type stripping.
  const { command, args } = prefixedCommand(commandPrefix, process.execPath, [MAIN, JSON.stringify(options)]);
  const { service, match } = await startService(command, args, {
    ready: /^.*"msg":"throttle proxy listening".*$/m,
  });
  const ready = JSON.parse(match![0]) as { links: string[]; control: string };
  return {
    linkHosts: ready.links,
    service,
    async stats() {
      const res = await fetch(`http://${ready.control}/stats`);
      if (!res.ok) throw new Error(`throttle proxy stats: HTTP ${res.status}`);
      return (await res.json()) as ThrottleStats;
    },
    stop: () => service.stop(),
  };
}
