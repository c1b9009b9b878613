/**
 * One node's HTTP client in a process of its own, for --link netns where the client must sit in the node's network
 * namespace: `node client-process-main.ts '<{ endpoint, image } as JSON>'`. Prints `client ready`, starts pulling
 * when a line arrives on stdin, reports the bytes received every 200 ms, then one `pulled` or `pull failed` line
 * (times in seconds since the start line arrived). It then waits for stdin to close or a SIGTERM, so the bench can
 * still read its CPU time.
 */
import { createInterface } from 'node:readline';
import { pullImage, WrongContentError, type NodeEndpoint } from './client.ts';
import type { BenchImage } from './image.ts';

const REPORT_INTERVAL_MS = 200;

const { endpoint, image } = JSON.parse(process.argv[2] ?? '') as { endpoint: NodeEndpoint; image: BenchImage };
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const input = createInterface({ input: process.stdin });
say({ msg: 'client ready' });
await new Promise((resolve) => input.once('line', resolve));

let unreported = 0;
const report = () => {
  if (unreported > 0) say({ msg: 'bytes', bytes: unreported });
  unreported = 0;
};
const timer = setInterval(report, REPORT_INTERVAL_MS);
try {
  const pull = await pullImage(endpoint, image, {
    startedAt: performance.now(),
    signal: new AbortController().signal, // the bench stops this process to cancel
    onBytes: (bytes) => (unreported += bytes),
  });
  report();
  say({ msg: 'pulled', ...pull });
} catch (err) {
  report();
  say({ msg: 'pull failed', error: (err as Error).message, wrongContent: err instanceof WrongContentError });
  process.exitCode = 1;
} finally {
  clearInterval(timer);
}
await new Promise((resolve) => input.once('close', resolve));
