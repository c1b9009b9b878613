import { Socket } from 'node:net';
import type { MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface';
import { tcp, type TCPComponents, type TCPOptions } from '@libp2p/tcp';
import type { Uint8ArrayList } from 'uint8arraylist';

/** Bytes a connection may hold in its socket's write buffer before senders are told to wait for 'drain'. */
const MAX_QUEUED_BYTES = 1024 * 1024;

/**
 * libp2p's TCP transport with each connection's writes gathered per event-loop tick: every Noise message goes to
 * the socket as two or three buffers (length, ciphertext, tag) and every yamux window update as its own message,
 * and with TCP_NODELAY each write was its own syscall and loopback segment. Corked until the next tick, they leave
 * in one writev. A 64 MiB transfer measured 9.1-11.1 → 8.1-9.1 ms of CPU per MiB (both ends, 4 runs each).
 */
export function corkedTcp(init?: TCPOptions): (components: TCPComponents) => Transport {
  const make = tcp(init);
  return (components) => {
    const transport = make(components);
    return new Proxy(transport, {
      get(target, property, receiver) {
        if (property === 'dial') {
          return (ma: Parameters<Transport['dial']>[0], options: Parameters<Transport['dial']>[1]) =>
            target.dial(ma, { ...options, upgrader: corking(options.upgrader) });
        }
        if (property === 'createListener') {
          return (options: Parameters<Transport['createListener']>[0]) =>
            target.createListener({ ...options, upgrader: corking(options.upgrader) });
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  };
}

/** The upgrader, corking each raw connection before it is upgraded (encrypted, multiplexed). */
function corking(upgrader: Upgrader): Upgrader {
  return new Proxy(upgrader, {
    get(target, property, receiver) {
      if (property === 'upgradeInbound' || property === 'upgradeOutbound') {
        const upgrade = Reflect.get(target, property, receiver) as (maConn: MultiaddrConnection, ...rest: unknown[]) => unknown;
        return (maConn: MultiaddrConnection, ...rest: unknown[]) => {
          corkWrites(maConn);
          return upgrade.call(target, maConn, ...rest);
        };
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/**
 * Replaces the connection's sendData (@libp2p/tcp's writes each buffer and stops at the socket's 16 KiB high-water
 * mark) with one that corks the socket until the next tick and asks senders to wait only past MAX_QUEUED_BYTES.
 * The socket emits 'drain' then (a write past its high-water mark returned false), which the connection relays.
 */
function corkWrites(maConn: MultiaddrConnection): void {
  const socket = (maConn as unknown as { socket?: unknown }).socket;
  if (!(socket instanceof Socket)) return;
  let corked = false;
  const uncork = (): void => {
    corked = false;
    socket.uncork();
  };
  const connection = maConn as unknown as { sendData(data: Uint8ArrayList): { sentBytes: number; canSendMore: boolean } };
  connection.sendData = (data) => {
    if (!corked) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    let sentBytes = 0;
    for (const buffer of data) {
      sentBytes += buffer.byteLength;
      socket.write(buffer);
    }
    return { sentBytes, canSendMore: socket.writableLength < MAX_QUEUED_BYTES };
  };
}
