import { connect, createServer, type Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/** A loopback TCP forwarder: a stable origin address in front of a registry that tests kill and restart. */
export interface TcpProxy {
  /** `127.0.0.1:PORT` to configure as the origin. */
  host: string;
  /** Where new connections go from now on (`host:port`). */
  setTarget(target: string): void;
  /** Bytes sent from the target to clients so far. */
  bytesForwarded(): number;
  close(): Promise<void>;
}

export interface TcpProxyOptions {
  /** Cap on the target→client rate, so a transfer is reliably still running when a test interrupts it. */
  bytesPerSecond?: number;
}

/** Starts a forwarder to `target` (for each new connection, the target current at that moment). */
export async function startTcpProxy(target: string, options: TcpProxyOptions = {}): Promise<TcpProxy> {
  let current = target;
  let forwarded = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const [host, port] = splitHost(current);
    const upstream = connect({ host, port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    const downstream = options.bytesPerSecond ? upstream.pipe(throttle(options.bytesPerSecond)) : upstream;
    downstream.on('data', (chunk: Buffer) => (forwarded += chunk.length));
    downstream.pipe(client);
    client.pipe(upstream);
    // A target that ends its side (FIN) is passed on after the queued bytes, by pipe(); a reset target resets the
    // client at once, and a client that goes away takes its upstream connection with it.
    const teardown = () => {
      client.destroy();
      upstream.destroy();
    };
    upstream.on('error', teardown);
    upstream.on('close', (hadError) => hadError && teardown());
    client.on('close', teardown);
    client.on('error', teardown);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('proxy has no address');
  return {
    host: `127.0.0.1:${address.port}`,
    setTarget: (next) => (current = next),
    bytesForwarded: () => forwarded,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function splitHost(hostPort: string): [string, number] {
  const colon = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, colon), Number(hostPort.slice(colon + 1))];
}

/** Delays each chunk by its share of the rate; backpressure keeps the queue (and so the burst) small. */
function throttle(bytesPerSecond: number): Transform {
  return new Transform({
    highWaterMark: 16 * 1024,
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      setTimeout(() => callback(null, chunk), (chunk.length / bytesPerSecond) * 1000);
    },
  });
}
