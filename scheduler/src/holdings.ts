import type { Logger } from '@flotilla/log';
import type { HeldBlob, SignedTaskMeta } from '@flotilla/wire';
import type { Seed, Seeds } from './seed.ts';
import type { TaskTable } from './tasks.ts';

export interface HoldingsOptions {
  seeds: Seeds;
  tasks: TaskTable;
  /** Signed by this scheduler or one it trusts, and the signature holds. */
  trusts(signed: SignedTaskMeta): Promise<boolean>;
  logger: Logger;
}

/**
 * What daemons report holding when they (re)register: after a restart, or when this scheduler takes over another's
 * blobs, it learns who holds what without any origin traffic. A blob is taken on only if its meta can be vouched
 * for: seeded here before (the store), or signed by a trusted scheduler; others are seeded on demand as usual.
 */
export class Holdings {
  readonly #o: HoldingsOptions;

  constructor(options: HoldingsOptions) {
    this.#o = options;
  }

  /** Records `peerId` as holding every piece of each blob it can vouch for; returns how many. */
  async record(peerId: string, blobs: readonly HeldBlob[], now: number): Promise<number> {
    const { tasks, logger } = this.#o;
    let recorded = 0;
    for (const blob of blobs) {
      const seed = await this.#seedFor(blob);
      if (!seed || seed.meta.size !== blob.size) continue;
      // Where it came from is not reported (it only names the task in /tasks).
      const task = tasks.get(blob.digest) ?? tasks.create(seed.meta, { registry: '', repository: '' }, now);
      const peer = tasks.join(task, peerId, now);
      tasks.addPieces(task, peer, Array.from({ length: task.meta.pieceCount }, (_, i) => i), now);
      recorded++;
    }
    logger.info({ peer: peerId, blobs: blobs.length, recorded }, 'holdings reported');
    return recorded;
  }

  async #seedFor(blob: HeldBlob): Promise<Seed | undefined> {
    const { seeds, trusts } = this.#o;
    const local = await seeds.local(blob.digest).catch(() => undefined);
    if (local) return local;
    if (blob.signed && (await trusts(blob.signed))) return seeds.adopt(blob.signed);
    return undefined;
  }
}
