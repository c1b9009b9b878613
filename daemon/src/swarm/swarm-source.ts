import type { Logger } from '@flotilla/log';
import type { OriginClient } from '@flotilla/origin';
import type { P2PNode } from '@flotilla/p2p';
import type { TokenBucket } from '@flotilla/ratelimit';
import type { BlobWriter } from '@flotilla/store';
import type { TaskAssignedResponse } from '@flotilla/wire';
import type { BlobFetchRequest, BlobSource, StartedFetch } from '../blob/source.ts';
import type { ActiveDownloads } from './active-downloads.ts';
import { PieceDownload } from './piece-download.ts';
import type { SchedulerClient } from './scheduler-client.ts';

export interface SwarmSourceOptions {
  node: P2PNode;
  scheduler: SchedulerClient;
  /** Used for whole blobs the swarm will not serve (back-to-source, scheduler down). */
  fallback: BlobSource;
  /** Used for single pieces nobody in the swarm delivers in time. */
  origin: OriginClient;
  active: ActiveDownloads;
  downloadBucket: TokenBucket;
  piecesInFlight: number;
  pieceTimeoutMs: number;
  logger: Logger;
}

/**
 * Asks the scheduler for the blob and fetches its pieces from the parents it names; when the scheduler says
 * "go to the source", errs, or does not answer within --scheduler-timeout, the origin source takes the same writer.
 */
export class SwarmBlobSource implements BlobSource {
  readonly name = 'swarm';
  readonly #o: SwarmSourceOptions;

  constructor(options: SwarmSourceOptions) {
    this.#o = options;
  }

  async start(request: BlobFetchRequest, writer: BlobWriter): Promise<StartedFetch> {
    const assignment = await this.#assignment(request);
    if (!assignment) return this.#o.fallback.start(request, writer);
    const { active } = this.#o;
    const blob = active.start(assignment.meta, writer);
    const { node, scheduler, origin, downloadBucket, piecesInFlight, pieceTimeoutMs, logger } = this.#o;
    const download = new PieceDownload({
      node,
      request,
      assignment,
      writer,
      scheduler,
      origin,
      downloadBucket,
      piecesInFlight,
      pieceTimeoutMs,
      onPiece: (index) => active.pieceWritten(blob, index),
      logger,
    });
    const done = download.run().then(
      () => active.finished(blob),
      (err: unknown) => {
        active.failed(blob);
        throw err;
      },
    );
    return { source: this.name, size: assignment.meta.size, done };
  }

  /** The scheduler's task assignment, or undefined when the blob should come from the origin. */
  async #assignment(request: BlobFetchRequest): Promise<TaskAssignedResponse | undefined> {
    const { scheduler, logger } = this.#o;
    const digest = request.digest.value;
    if (scheduler.isDown) {
      logger.debug({ digest }, 'scheduler down; blob from the origin');
      return undefined;
    }
    let answer;
    try {
      answer = await scheduler.call({
        type: 'task',
        digest,
        registry: request.registry,
        repository: request.repository,
        ...(request.authorization ? { authorization: request.authorization } : {}),
      });
    } catch (err) {
      logger.warn({ digest, error: (err as Error).message }, 'scheduler unavailable; blob from the origin');
      return undefined;
    }
    if (answer.type === 'task-assigned' && answer.meta.digest === digest) return answer;
    const reason = answer.type === 'back-to-source' ? answer.reason : answer.type === 'error' ? `${answer.code}: ${answer.message}` : 'wrong digest';
    logger.info({ digest, reason }, 'blob from the origin (scheduler said back to source)');
    return undefined;
  }
}
