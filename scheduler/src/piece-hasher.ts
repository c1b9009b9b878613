import { createHash, type Hash } from 'node:crypto';

/** Cuts a byte stream into pieces of `pieceLength` and hashes each with sha256 as its bytes go by. */
export class PieceHasher {
  readonly #pieceLength: number;
  readonly #size: number;
  readonly #digests: string[] = [];
  #hash: Hash = createHash('sha256');
  #inPiece = 0;
  #total = 0;

  constructor(size: number, pieceLength: number) {
    this.#size = size;
    this.#pieceLength = pieceLength;
  }

  /** Digests (`sha256:<hex>`) of every piece completed so far, in order. */
  get digests(): readonly string[] {
    return this.#digests;
  }

  /** Throws RangeError when the stream runs past `size`. */
  update(chunk: Uint8Array): void {
    if (this.#total + chunk.byteLength > this.#size) throw new RangeError(`more than the announced ${this.#size} bytes`);
    let at = 0;
    while (at < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - at, this.#pieceLength - this.#inPiece);
      this.#hash.update(chunk.subarray(at, at + take));
      at += take;
      this.#inPiece += take;
      this.#total += take;
      if (this.#inPiece === this.#pieceLength || this.#total === this.#size) this.#finishPiece();
    }
  }

  #finishPiece(): void {
    this.#digests.push(`sha256:${this.#hash.digest('hex')}`);
    this.#hash = createHash('sha256');
    this.#inPiece = 0;
  }
}
