import { isCompleteMeta, type MetaSignature, type SignedTaskMeta, type TaskMeta } from '@flotilla/wire';

/**
 * What one download knows of its blob's piece digests: the assignment's, those report-acks add while the seed
 * fetches, and the scheduler's signature once all are known. A piece is fetched from a parent only when its
 * digest is known — unless the blob will be verified whole instead (no trusted meta: a DHT provider's blob that no
 * scheduler saw, or a scheduler that went away before publishing every digest).
 */
export class PieceDigests {
  readonly #meta: TaskMeta;
  readonly #digests: (string | null)[];
  #signature: MetaSignature | undefined;
  #unverified = false;
  #signedReported = false;

  constructor(meta: TaskMeta) {
    this.#meta = meta;
    this.#digests = [...meta.pieceDigests];
  }

  /** The piece's digest, or null while unknown. */
  get(index: number): string | null {
    return this.#digests[index] ?? null;
  }

  /** May the piece be asked of a parent now? */
  fetchable(index: number): boolean {
    return this.#unverified || this.#digests[index] !== null;
  }

  /** From now on pieces with unknown digests are fetched unchecked; the caller verifies the whole blob. */
  allowUnverified(): void {
    this.#unverified = true;
  }

  get unverifiedAllowed(): boolean {
    return this.#unverified;
  }

  /** Some piece not yet done still lacks its digest. */
  wanted(done: (index: number) => boolean): boolean {
    return this.#digests.some((d, i) => d === null && !done(i));
  }

  /** Digests for pieces from, from+1, ...; known ones are kept. */
  learn(from: number, digests: readonly string[]): void {
    digests.forEach((digest, k) => (this.#digests[from + k] ??= digest));
  }

  /** Digests of the listed pieces (the seed's watch); known ones are kept. */
  learnEach(pieces: readonly number[], digests: readonly string[]): void {
    pieces.forEach((index, k) => {
      if (index < this.#digests.length) this.#digests[index] ??= digests[k]!;
    });
  }

  /** A fresh assignment's meta (rejoin, reschedule): every digest known so far. */
  learnMeta(meta: TaskMeta, signature?: MetaSignature): void {
    meta.pieceDigests.forEach((digest, i) => {
      if (digest !== null) this.#digests[i] ??= digest;
    });
    if (signature) this.#signature ??= signature;
  }

  learnSignature(signature: MetaSignature): void {
    this.#signature ??= signature;
  }

  /** Indexes whose digest is known. */
  known(): number[] {
    const out: number[] = [];
    this.#digests.forEach((d, i) => d !== null && out.push(i));
    return out;
  }

  /**
   * The complete meta with the scheduler's signature, the first time both are there (undefined before and after):
   * the caller checks it and keeps it to hand to other daemons.
   */
  takeSigned(): SignedTaskMeta | undefined {
    if (this.#signedReported || this.#signature === undefined) return undefined;
    const meta = { ...this.#meta, pieceDigests: [...this.#digests] };
    if (!isCompleteMeta(meta)) return undefined;
    this.#signedReported = true;
    return { meta, signature: this.#signature };
  }
}
