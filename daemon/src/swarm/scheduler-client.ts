import type { Logger } from '@flotilla/log';
import type { P2PNode } from '@flotilla/p2p';
import { schedCall, LIMITS, type SchedRequest, type SchedResponseFor } from '@flotilla/wire';
import type { PeerId } from '@libp2p/interface';
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr';
import { DEFAULT_SCHEDULER_ANSWER_TIMEOUT_MS } from '../config.ts';

/** After a failed call, requests skip the scheduler (straight to the origin) for this long. */
const DOWN_FOR_MS = 5_000;
/** While unregistered (down, or not reached yet), registration is retried this often: a scheduler that comes back is used again within about this long. */
const RETRY_REGISTER_MS = 1_000;

export interface SchedulerClientOptions {
  node: P2PNode;
  /** The scheduler's multiaddr; a `/p2p/` part is optional (the peer id is learnt on connect). */
  address: string;
  /** --scheduler-timeout: how long making a connection may take (an unreachable scheduler is given up on quickly). */
  timeoutMs: number;
  /** --scheduler-answer-timeout: how long a connected scheduler may take to answer (busy is not gone). */
  answerTimeoutMs?: number;
  registration: { zone?: string; uploadSlots: number; uploadRate?: number };
  /** Registered after being unregistered (first contact, back after being down, or it had forgotten us). */
  onRegistered?(): void;
  /** Stopped answering (it is now skipped for a few seconds at a time, until it registers us again). */
  onDown?(): void;
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
 * The daemon's side of /flotilla/sched/1.0.0: one call per request. Connecting is bounded by --scheduler-timeout
 * (an unreachable scheduler costs a miss about a second); once connected, the answer by --scheduler-answer-timeout:
 * a scheduler whose link or CPU is busy seeding answers late, and giving up on it then would send the whole swarm
 * to the origin at the moment it matters most. A failed call marks the scheduler down for a few seconds, so the
 * misses that follow go elsewhere at once instead of each waiting out the timeout. Registration is renewed at half its TTL, redone after the scheduler forgot us, and
 * retried every second while it is down, which is how a scheduler that comes back is noticed.
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
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #seenPeerIds = new Set<string>();

  constructor(options: SchedulerClientOptions) {
    this.#o = options;
    this.#address = multiaddr(options.address);
  }

  /** The scheduler's peer id once a connection told it: the seed parent of every task. */
  get peerId(): string | undefined {
    return this.#peerId?.toString();
  }

  /** Every peer id this address answered with during this run (kept while it is down: its signatures stay trusted). */
  get knownPeerIds(): ReadonlySet<string> {
    return this.#seenPeerIds;
  }

  /** The configured address, as given. */
  get address(): string {
    return this.#o.address;
  }

  get isDown(): boolean {
    return Date.now() < this.#downUntil;
  }

  /** Registers in the background; failures only mean the first task call registers implicitly later. */
  start(): void {
    this.#o.node.addEventListener('peer:disconnect', this.#onDisconnect);
    this.#registerSoon();
  }

  /**
   * One request/response. Throws SchedulerUnavailableError when the scheduler is down or does not answer in time;
   * an `error` reply is returned, not thrown. `pieceCount` bounds the piece indexes a report-ack may carry.
   */
  async call<R extends SchedRequest>(request: R, options: { pieceCount?: number } = {}): Promise<SchedResponseFor<R>> {
    if (this.isDown) throw new SchedulerUnavailableError(`scheduler ${this.#o.address} marked down after a recent failure`);
    if (!this.#registered && request.type !== 'register' && request.type !== 'leave') this.#registerSoon();
    return this.#send(request, options);
  }

  async #send<R extends SchedRequest>(request: R, options: { pieceCount?: number } = {}): Promise<SchedResponseFor<R>> {
    const answerTimeoutMs = this.#o.answerTimeoutMs ?? DEFAULT_SCHEDULER_ANSWER_TIMEOUT_MS;
    try {
      const peer = await this.#connect(AbortSignal.any([AbortSignal.timeout(this.#o.timeoutMs), this.#stopped.signal]));
      const signal = AbortSignal.any([AbortSignal.timeout(answerTimeoutMs), this.#stopped.signal]);
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
    this.#o.node.removeEventListener('peer:disconnect', this.#onDisconnect);
    clearTimeout(this.#renewTimer);
    clearTimeout(this.#retryTimer);
    if (this.#registered && !this.isDown) await this.call({ type: 'leave' }).catch(() => undefined);
    this.#stopped.abort(new Error('daemon stopping'));
  }

  /** One registration at a time; callers do not wait for it (the scheduler accepts calls from unregistered hosts). */
  #registerSoon(): void {
    if (this.#stopped.signal.aborted) return;
    this.#registering ??= this.#register()
      .catch(() => this.#retryLater())
      .finally(() => (this.#registering = undefined));
  }

  /** The connection to the scheduler is gone (it stopped or restarted): register again as soon as it answers. */
  readonly #onDisconnect = (evt: CustomEvent<PeerId>): void => {
    if (this.#peerId === undefined || !evt.detail.equals(this.#peerId) || this.#stopped.signal.aborted) return;
    this.#registered = false;
    this.#retryLater();
  };

  #retryLater(): void {
    if (this.#stopped.signal.aborted) return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#registerSoon(), RETRY_REGISTER_MS);
    this.#retryTimer.unref();
  }

  async #register(): Promise<void> {
    const addresses = this.#o.node
      .getMultiaddrs()
      .map(String)
      .slice(0, LIMITS.addresses);
    const { zone, uploadSlots, uploadRate } = this.#o.registration;
    // Not through call(): registering is how a scheduler marked down is tried again.
    const response = await this.#send({
      type: 'register',
      addresses,
      uploadSlots,
      ...(zone === undefined ? {} : { zone }),
      ...(uploadRate ? { uploadRate } : {}),
    });
    if (response.type !== 'registered') {
      this.#o.logger.warn({ code: response.code, error: response.message }, 'scheduler refused registration');
      this.#retryLater();
      return;
    }
    this.#downUntil = 0;
    clearTimeout(this.#retryTimer);
    if (!this.#registered) {
      this.#registered = true;
      this.#o.logger.info({ scheduler: this.peerId, address: this.#o.address, addresses }, 'registered with the scheduler');
      this.#o.onRegistered?.();
    }
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
    this.#seenPeerIds.add(this.#peerId.toString());
    return this.#peerId;
  }

  #markDown(err: unknown, what: string): void {
    if (this.#stopped.signal.aborted) return;
    const wasDown = this.isDown;
    this.#downUntil = Date.now() + DOWN_FOR_MS;
    this.#registered = false;
    this.#retryLater();
    if (!wasDown) {
      this.#o.onDown?.();
      this.#o.logger.warn({ scheduler: this.#o.address, request: what, error: (err as Error).message, retry_in_ms: DOWN_FOR_MS }, 'scheduler unavailable');
    }
  }
}
