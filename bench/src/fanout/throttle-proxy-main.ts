/**
 * A throttle proxy in a process of its own, so its CPU time is measured apart from the clients' and its timers do not
 * share an event loop with them: `node throttle-proxy-main.ts '<ThrottleProxyOptions as JSON>'`. Prints one JSON line
 * with its listeners and a control address whose GET /stats returns the byte counters; stops on SIGTERM/SIGINT.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startThrottleProxy, type ThrottleProxyOptions } from './throttle-proxy.ts';

const options = JSON.parse(process.argv[2] ?? '') as ThrottleProxyOptions;
const proxy = await startThrottleProxy(options);
const control = createServer((req, res) => {
  if (req.url !== '/stats') return res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(proxy.stats()));
});
// The control listener shares the links' address: in a network namespace the bench reaches it over the bridge.
const listenHost = options.listenHost ?? '127.0.0.1';
await new Promise<void>((resolve) => control.listen(0, listenHost, resolve));
const controlHost = `${listenHost}:${(control.address() as AddressInfo).port}`;
process.stdout.write(`${JSON.stringify({ msg: 'throttle proxy listening', links: proxy.linkHosts, control: controlHost })}\n`);

const stop = () => {
  control.close();
  control.closeAllConnections();
  void proxy.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
