import type { Logger } from '@flotilla/log';
import type { P2PNode } from '@flotilla/p2p';
import { schedCall, LIMITS, type SchedRequest, type SchedResponseFor } from '@flotilla/wire';
import type { PeerId } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';

/** After a failed call, requests skip the scheduler (straight to the origin) for this long. */
const DOWN_FOR_MS = 5_000;

export interface SchedulerClientOptions {
  node: P2PNode;
  /** The scheduler's multiaddr; a `/p2p/` part is optional (the peer id is learnt on connect). */
  address: string;
  timeoutMs: number;
  registration: { zone?: string; uploadSlots: number; uploadRate?: number };
  logger: Logger;
}

/** What a download needs of its scheduler: the seed's peer id, whether it is down, and calls. */
export interface SchedulerLink {
  readonly peerId: string | undefined;
  readonly isDown: boolean;
  call<R extends SchedRequest>(request: R, options?: { pieceCount?: number }): Promise<SchedResponseFor<R>>;
}

/** The scheduler did not answer (unreachable, timed out, broke the protocol) or is remembered as down. */
export class SchedulerUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SchedulerUnavailableError';
  }
}

/** The link of a download no scheduler coordinates (found through the DHT): every call fails at once. */
export const NO_SCHEDULER: SchedulerLink = {
  peerId: undefined,
  isDown: true,
  call: () => Promise.reject(new SchedulerUnavailableError('no scheduler coordinates this download')),
};

/**
 * The daemon's side of /flotilla/sched/1.0.0: one call per request, each bounded by --scheduler-timeout. A failed
 * call marks the scheduler down for a few seconds, so the misses that follow go to the origin at once instead of
 * each waiting out the timeout. Registration is renewed at half its TTL and redone after the scheduler forgot us.
 */
export class SchedulerClient {
  readonly #o: SchedulerClientOptions;
  readonly #address: Multiaddr;
  readonly #stopped = new AbortController();
  #peerId: PeerId | undefined;
  #downUntil = 0;
  #registered = false;
  #registering: Promise<void> | undefined;
  #renewTimer: NodeJS.Timeout | undefined;

  constructor(options: SchedulerClientOptions) {
    this.#o = options;
    this.#address = multiaddr(options.address);
  }

  /** The scheduler's peer id once a connection told it: the seed parent of every task. */
  get peerId(): string | undefined {
    return this.#peerId?.toString();
  }

  get isDown(): boolean {
    return Date.now() < this.#downUntil;
  }

  /** Registers in the background; failures only mean the first task call registers implicitly later. */
  start(): void {
    this.#registerSoon();
  }

  /**
   * One request/response. Throws SchedulerUnavailableError when the scheduler is down or does not answer in time;
   * an `error` reply is returned, not thrown. `pieceCount` bounds the piece indexes a report-ack may carry.
   */
  async call<R extends SchedRequest>(request: R, options: { pieceCount?: number } = {}): Promise<SchedResponseFor<R>> {
    if (this.isDown) throw new SchedulerUnavailableError('scheduler marked down after a recent failure');
    if (!this.#registered && request.type !== 'register' && request.type !== 'leave') this.#registerSoon();
    const signal = AbortSignal.any([AbortSignal.timeout(this.#o.timeoutMs), this.#stopped.signal]);
    try {
      const peer = await this.#connect(signal);
      const response = await schedCall(this.#o.node, peer, request, { signal, ...options });
      if (response.type === 'error' && response.code === 'unknown-host') this.#registered = false;
      return response;
    } catch (err) {
      this.#peerId = undefined;
      this.#markDown(err, request.type);
      throw new SchedulerUnavailableError(`scheduler ${this.#o.address} did not answer "${request.type}": ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Says goodbye (best effort, bounded by the timeout) and stops renewing. */
  async stop(): Promise<void> {
    clearTimeout(this.#renewTimer);
    if (this.#registered && !this.isDown) await this.call({ type: 'leave' }).catch(() => undefined);
    this.#stopped.abort(new Error('daemon stopping'));
  }

  /** One registration at a time; callers do not wait for it (the scheduler accepts calls from unregistered hosts). */
  #registerSoon(): void {
    this.#registering ??= this.#register()
      .catch(() => undefined)
      .finally(() => (this.#registering = undefined));
  }

  async #register(): Promise<void> {
    const addresses = this.#o.node
      .getMultiaddrs()
      .map(String)
      .slice(0, LIMITS.addresses);
    const { zone, uploadSlots, uploadRate } = this.#o.registration;
    const response = await this.call({
      type: 'register',
      addresses,
      uploadSlots,
      ...(zone === undefined ? {} : { zone }),
      ...(uploadRate ? { uploadRate } : {}),
    });
    if (response.type !== 'registered') {
      this.#o.logger.warn({ code: response.code, error: response.message }, 'scheduler refused registration');
      return;
    }
    if (!this.#registered) this.#o.logger.info({ scheduler: this.peerId, addresses }, 'registered with the scheduler');
    this.#registered = true;
    clearTimeout(this.#renewTimer);
    this.#renewTimer = setTimeout(() => this.#registerSoon(), Math.max(1_000, response.ttlMs / 2));
    this.#renewTimer.unref();
  }

  /** The scheduler's peer id, dialing its address when there is no live connection (a restart may change the id). */
  async #connect(signal: AbortSignal): Promise<PeerId | Multiaddr> {
    if (this.#peerId && this.#o.node.getConnections(this.#peerId).length > 0) return this.#peerId;
    const connection = await this.#o.node.dial(this.#address, { signal });
    if (this.#peerId?.toString() !== connection.remotePeer.toString()) this.#registered = false;
    this.#peerId = connection.remotePeer;
    return this.#peerId;
  }

  #markDown(err: unknown, what: string): void {
    if (this.#stopped.signal.aborted) return;
    const wasDown = this.isDown;
    this.#downUntil = Date.now() + DOWN_FOR_MS;
    this.#registered = false;
    if (!wasDown) {
      this.#o.logger.warn({ scheduler: this.#o.address, request: what, error: (err as Error).message, retry_in_ms: DOWN_FOR_MS }, 'scheduler unavailable');
    }
  }
}
