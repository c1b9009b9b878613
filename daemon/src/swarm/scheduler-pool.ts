import { createHash } from 'node:crypto';
import type { Logger } from '@flotilla/log';
import type { P2PNode } from '@flotilla/p2p';
import { LIMITS, MAX_SCHED_FRAME, type HeldBlob, type SchedRequest, type SchedResponseFor } from '@flotilla/wire';
import { SchedulerClient, SchedulerUnavailableError, type SchedulerClientOptions, type SchedulerLink } from './scheduler-client.ts';

/** A `holding` message stays well under the sched frame limit (signed meta of big blobs is large). */
const HOLDING_BATCH_BYTES = MAX_SCHED_FRAME / 4;

export interface SchedulerPoolOptions extends Omit<SchedulerClientOptions, 'address' | 'onRegistered' | 'onDown'> {
  node: P2PNode;
  /** --scheduler, in the order given (the same everywhere: it is the rendezvous identity of each scheduler). */
  addresses: readonly string[];
  /** What this daemon holds completely, to report to a scheduler that (re)registered us. */
  holdings(): AsyncIterable<HeldBlob>;
  logger: Logger;
}

/**
 * The configured schedulers. Each blob has its own order of them by rendezvous hashing of its digest, so every
 * daemon sends a blob's task to the same scheduler, and when that one is down, to the same next one. A scheduler
 * that (re)registers us — first contact, back after a restart — is told what we hold among the blobs it is now
 * first for, and so is the next one of the blobs of a scheduler that went down, so they hand those blobs out
 * without a trip to the origin.
 */
export class SchedulerPool {
  readonly clients: readonly SchedulerClient[];
  readonly #o: SchedulerPoolOptions;

  constructor(options: SchedulerPoolOptions) {
    this.#o = options;
    const { node, timeoutMs, answerTimeoutMs, registration, logger } = options;
    this.clients = options.addresses.map((address) => {
      const client: SchedulerClient = new SchedulerClient({
        node,
        address,
        timeoutMs,
        ...(answerTimeoutMs === undefined ? {} : { answerTimeoutMs }),
        registration,
        logger,
        onRegistered: () => void this.#report(client, () => true),
        onDown: () => {
          // Its blobs now go to the next live scheduler of each: tell those what we hold of them.
          for (const next of this.clients) if (!next.isDown) void this.#report(next, (order) => order[0] === client);
        },
      });
      return client;
    });
  }

  start(): void {
    for (const client of this.clients) client.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.stop()));
  }

  get isDown(): boolean {
    return this.clients.every((c) => c.isDown);
  }

  /** Every peer id the configured schedulers answered with: their signatures are trusted. */
  knownPeerIds(): string[] {
    return this.clients.flatMap((c) => [...c.knownPeerIds]);
  }

  /** The schedulers for one blob, best first. */
  order(digest: string): SchedulerClient[] {
    return this.clients
      .map((client) => ({ client, score: rendezvousScore(client.address, digest) }))
      .sort((a, b) => b.score - a.score)
      .map(({ client }) => client);
  }

  /** The scheduler link of one download: its task stays with the scheduler that answered, and moves when that one fails. */
  route(digest: string): TaskRoute {
    return new TaskRoute(this.order(digest), this.#o.logger, digest);
  }

  /** Tells a scheduler what we hold among the blobs it is the first live scheduler for (and `which` selects). */
  async #report(target: SchedulerClient, which: (order: SchedulerClient[]) => boolean): Promise<void> {
    let batch: HeldBlob[] = [];
    let bytes = 0;
    let sent = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const answer = await target.call({ type: 'holding', blobs: batch });
      if (answer.type === 'ok') sent += batch.length;
      batch = [];
      bytes = 0;
    };
    try {
      for await (const blob of this.#o.holdings()) {
        const order = this.order(blob.digest);
        if (order.find((c) => !c.isDown) !== target || !which(order)) continue;
        const size = Buffer.byteLength(JSON.stringify(blob));
        if (batch.length >= LIMITS.held || bytes + size > HOLDING_BATCH_BYTES) await flush();
        batch.push(blob);
        bytes += size;
      }
      await flush();
      if (sent > 0) this.#o.logger.info({ scheduler: target.address, blobs: sent }, 'holdings reported to the scheduler');
    } catch (err) {
      this.#o.logger.warn({ scheduler: target.address, error: (err as Error).message }, 'reporting holdings failed');
    }
  }
}

/**
 * One download's scheduler: calls go to the current one; when it is down or does not answer, to the next live one
 * in the blob's rendezvous order, which becomes current (its first answer to a report is then "unknown task", and
 * the download joins the task there).
 */
export class TaskRoute implements SchedulerLink {
  readonly #order: SchedulerClient[];
  readonly #logger: Logger;
  readonly #digest: string;
  #current: SchedulerClient;

  constructor(order: SchedulerClient[], logger: Logger, digest: string) {
    if (order.length === 0) throw new Error('a task route needs a scheduler');
    this.#order = order;
    this.#logger = logger;
    this.#digest = digest;
    this.#current = order.find((c) => !c.isDown) ?? order[0]!;
  }

  get peerId(): string | undefined {
    return this.#current.peerId;
  }

  get isDown(): boolean {
    return this.#order.every((c) => c.isDown);
  }

  async call<R extends SchedRequest>(request: R, options: { pieceCount?: number } = {}): Promise<SchedResponseFor<R>> {
    let failure: unknown;
    for (const client of [this.#current, ...this.#order.filter((c) => c !== this.#current)]) {
      if (client.isDown) continue;
      try {
        const answer = await client.call(request, options);
        if (client !== this.#current) {
          this.#logger.info({ digest: this.#digest, from: this.#current.address, to: client.address }, 'task moved to another scheduler');
          this.#current = client;
        }
        return answer;
      } catch (err) {
        if (!(err instanceof SchedulerUnavailableError)) throw err;
        failure = err;
      }
    }
    throw failure ?? new SchedulerUnavailableError(`every scheduler of ${this.#digest} is down`);
  }
}

/** Highest random weight of (scheduler, blob): the first 6 bytes of sha256(address NUL digest). */
function rendezvousScore(address: string, digest: string): number {
  return createHash('sha256').update(address).update('\0').update(digest).digest().readUIntBE(0, 6);
}
