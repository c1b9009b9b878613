import { LIMITS, type MetaSignature, type Parent, type PieceFailure } from '@flotilla/wire';
import { PieceSet } from './piece-set.ts';
import type { SchedulerLink } from './scheduler-client.ts';

/**
 * Reports are batched: one every this many ms while there is something to say. Every report is a stream the
 * scheduler opens, parses and answers: ten children reporting every 100 ms kept a busy scheduler from answering
 * `task` in time. Availability between daemons travels on their watch streams, not through reports.
 */
const REPORT_INTERVAL_MS = 250;

/** What a report-ack can teach a download. */
export interface TaskNews {
  /** Piece digests that became known, for pieces from, from+1, ... */
  pieceDigests?: { from: number; digests: string[] };
  parents?: Parent[];
  signature?: MetaSignature;
  /** The seed's unfinished children (first-fetcher ranks), when they changed. */
  swarm?: string[];
}

export interface TaskReporterOptions {
  scheduler: SchedulerLink;
  digest: string;
  pieceCount: number;
  onNews(news: TaskNews): void;
  /** The scheduler forgot the task (it restarted): ask for it again; every finished piece is then re-reported. */
  rejoin(): Promise<void>;
}

/**
 * Batches one download's finished and failed pieces into a `report` every ~100 ms (and at once on flush). Reports
 * are also how a child learns piece digests while the seed is still fetching, so while `wantDigests` is set an
 * empty report goes out each interval as a poll. When the scheduler is unreachable the batch is kept for later.
 */
export class TaskReporter {
  readonly #o: TaskReporterOptions;
  readonly #finished: PieceSet;
  #pending: number[] = [];
  #failed: PieceFailure[] = [];
  #sending: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Set by the download while some piece digest it needs is still unknown. */
  wantDigests = false;

  constructor(options: TaskReporterOptions) {
    this.#o = options;
    this.#finished = new PieceSet(options.pieceCount);
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.#tick(), REPORT_INTERVAL_MS);
  }

  finished(index: number): void {
    if (this.#finished.add(index)) this.#pending.push(index);
  }

  failed(failure: PieceFailure): void {
    this.#failed.push(failure);
  }

  /** Sends what is pending now (after any report in flight); never throws. */
  async flush(): Promise<void> {
    await this.#sending;
    if (this.#pending.length > 0 || this.#failed.length > 0) await this.#send();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tick(): Promise<void> {
    if (this.#sending || this.#o.scheduler.isDown) return;
    if (this.#pending.length > 0 || this.#failed.length > 0 || this.wantDigests) await this.#send();
  }

  #send(): Promise<void> {
    const finished = this.#pending.sort((a, b) => a - b);
    const failed = this.#failed.splice(0, LIMITS.failed);
    this.#pending = [];
    this.#sending = this.#report(finished, failed).finally(() => (this.#sending = undefined));
    return this.#sending;
  }

  async #report(finished: number[], failed: PieceFailure[]): Promise<void> {
    const { scheduler, digest, pieceCount } = this.#o;
    try {
      const ack = await scheduler.call({ type: 'report', digest, finished, failed }, { pieceCount });
      if (ack.type === 'report-ack') {
        this.#o.onNews(ack);
        return;
      }
      if (ack.code === 'unknown-task') {
        await this.#o.rejoin();
        this.#pending = this.#finished.toArray();
      }
      // Any other refusal would refuse the same batch again: it is dropped.
    } catch {
      // Unreachable: keep the batch for the next report.
      this.#pending.push(...finished);
      this.#failed.unshift(...failed);
    }
  }
}
