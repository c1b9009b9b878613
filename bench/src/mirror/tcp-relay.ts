import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP relay that does nothing but move bytes: `node tcp-relay.ts HOST:PORT` listens on 127.0.0.1 (port 0), relays
 * every connection to HOST:PORT and prints `relay listening on 127.0.0.1:<port>`. Through it the benchmark measures
 * what anything in between pays at the least on this machine: one more process, two more loopback hops.
 *
 * Answers are read into reused 1 MiB buffers (socket `onread`), each written on as it is and reused once written:
 * a stream pipe's fresh 64 KiB buffer per read costs three times the CPU and would understate the ceiling.
 */
const READ_BYTES = 1 << 20;
/** Buffers kept for reuse; a relay moving one blob at a time needs a handful. */
const MAX_SPARE = 16;

const target = /^(.+):(\d+)$/.exec(process.argv[2] ?? '');
if (!target) {
  process.stderr.write(`usage: tcp-relay.ts HOST:PORT (got ${JSON.stringify(process.argv[2])})\n`);
  process.exit(2);
}
const [, host, port] = target;
const spare: Array<Buffer<ArrayBuffer>> = [];

const server = createServer((client) => {
  let reading = Buffer.allocUnsafe(READ_BYTES);
  const upstream: Socket = connect({
    host: host!,
    port: Number(port),
    onread: {
      buffer: () => reading,
      callback: (length) => {
        const filled = reading;
        reading = spare.pop() ?? Buffer.allocUnsafe(READ_BYTES);
        const more = client.write(filled.subarray(0, length), () => {
          if (spare.length < MAX_SPARE) spare.push(filled);
        });
        if (!more) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
        return true;
      },
    },
  });
  const closeBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  for (const socket of [client, upstream]) {
    socket.once('error', closeBoth);
    socket.once('close', closeBoth);
  }
  upstream.once('end', () => client.end());
  client.pipe(upstream);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (typeof address === 'object' && address) process.stdout.write(`relay listening on 127.0.0.1:${address.port}\n`);
});
process.once('SIGTERM', () => process.exit(0));
