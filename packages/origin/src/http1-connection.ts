import { isIP, connect as connectTcp, type OnReadOpts, type Socket } from 'node:net';
import { connect as connectTls, rootCertificates, type ConnectionOptions } from 'node:tls';
import { ReceiveBuffer, type SlabPool } from './receive-buffers.ts';

/** Whoever is using a connection: one request/response exchange at a time. */
export interface ConnectionUser {
  /** The connection is up (TLS handshake done); only for a new connection. */
  connected(): void;
  /** Bytes read, valid during the call only; return false to stop reading until `resume()`. */
  received(bytes: Buffer): boolean;
  /** The peer closed its side. */
  ended(): void;
  /** The connection failed, timed out (OriginTimeoutError is the user's to make) or closed. */
  failed(err: unknown): void;
  timedOut(): void;
}

/** How unused connections are kept for the next blob GET to the same origin. */
export interface KeepAlive {
  /** How long an unused connection is kept. */
  keepAliveMs: number;
  /** Unused connections kept per origin; more are closed. */
  idleConnectionsPerOrigin: number;
}

/**
 * A TCP or TLS connection that reads into pooled slabs (see receive-buffers.ts) and serves one exchange at a time;
 * between exchanges it waits in its pool. The slab it reads into stays held until the socket is closed, since the
 * socket may write into it at any time.
 */
export class Http1Connection {
  readonly key: string;
  readonly #socket: Socket;
  readonly #receive: ReceiveBuffer;
  #user: ConnectionUser | undefined;
  #closed = false;
  /** Whether it has served a response before: such a connection may have been closed by the server meanwhile. */
  reused = false;

  constructor(url: URL, caPem: string | undefined, connectTimeoutMs: number, slabs: SlabPool) {
    this.key = connectionKey(url, caPem);
    this.#receive = new ReceiveBuffer(slabs);
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const https = url.protocol === 'https:';
    const port = Number(url.port) || (https ? 443 : 80);
    const onread = { buffer: () => this.#receive.target(), callback: (length: number) => this.#onRead(length) };
    // TLS sockets honour `onread` like TCP ones (the decrypted bytes land in our slabs); @types/node omits it.
    const tlsOptions: ConnectionOptions & { onread: OnReadOpts } = {
      host,
      port,
      onread,
      ...(isIP(host) ? {} : { servername: host }),
      ...(caPem ? { ca: [...rootCertificates, caPem] } : {}),
      ALPNProtocols: ['http/1.1'],
    };
    this.#socket = https ? connectTls(tlsOptions) : connectTcp({ host, port, onread });
    this.#socket.setTimeout(connectTimeoutMs);
    this.#socket.once(https ? 'secureConnect' : 'connect', () => this.#user?.connected());
    this.#socket.on('timeout', () => (this.#user ? this.#user.timedOut() : this.destroy()));
    this.#socket.on('end', () => (this.#user ? this.#user.ended() : this.destroy()));
    this.#socket.on('error', (err) => this.#user?.failed(err));
    this.#socket.on('close', () => {
      this.#closed = true;
      this.#receive.close();
      this.#user?.failed(new Error('connection closed'));
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts an exchange on this connection. */
  use(user: ConnectionUser): void {
    this.#user = user;
  }

  /** Ends the current exchange; the connection then only waits (its pool closes it on any sign of life). */
  detach(): void {
    this.#user = undefined;
  }

  write(text: string): void {
    this.#socket.write(text);
  }

  /** Deadline for the next read or write; 0 for none. */
  setTimeout(ms: number): void {
    this.#socket.setTimeout(ms);
  }

  resume(): void {
    this.#socket.resume();
  }

  destroy(): void {
    this.#user = undefined;
    this.#socket.destroy();
  }

  #onRead(length: number): boolean {
    const read = this.#receive.took(length);
    try {
      // Bytes on a connection nobody uses (a server talking out of turn): it cannot be trusted with a request.
      if (!this.#user) {
        this.destroy();
        return false;
      }
      return this.#user.received(read.bytes);
    } finally {
      read.release();
    }
  }
}

/** Unused connections by origin (and extra CA), most recently used first. */
export class Http1ConnectionPool {
  readonly #idle = new Map<string, Http1Connection[]>();
  readonly #keepAlive: KeepAlive;

  constructor(keepAlive: KeepAlive) {
    this.#keepAlive = keepAlive;
  }

  /** An unused connection to `url`'s origin, or undefined. */
  take(url: URL, caPem: string | undefined): Http1Connection | undefined {
    const idle = this.#idle.get(connectionKey(url, caPem));
    for (let connection = idle?.pop(); connection; connection = idle?.pop()) {
      if (!connection.closed) return connection;
    }
    return undefined;
  }

  /** Keeps a connection whose exchange ended cleanly for the next request, or closes it when enough are kept. */
  put(connection: Http1Connection): void {
    connection.detach();
    connection.reused = true;
    let idle = this.#idle.get(connection.key);
    if (!idle) this.#idle.set(connection.key, (idle = []));
    for (let i = idle.length - 1; i >= 0; i--) if (idle[i]!.closed) idle.splice(i, 1);
    if (idle.length >= this.#keepAlive.idleConnectionsPerOrigin) {
      connection.destroy();
      return;
    }
    idle.push(connection);
    connection.setTimeout(this.#keepAlive.keepAliveMs);
  }

  /** Closes every unused connection. */
  close(): void {
    for (const idle of this.#idle.values()) for (const connection of idle) connection.destroy();
    this.#idle.clear();
  }
}

function connectionKey(url: URL, caPem: string | undefined): string {
  return `${url.origin}\n${caPem ?? ''}`;
}
