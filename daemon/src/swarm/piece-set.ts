/** A set of piece indexes of one blob (one bit per piece), with a running count. */
export class PieceSet {
  readonly size: number;
  readonly #bits: Uint8Array;
  #count = 0;

  constructor(size: number) {
    this.size = size;
    this.#bits = new Uint8Array(Math.ceil(size / 8));
  }

  /** Every index from 0 to size - 1. */
  static full(size: number): PieceSet {
    const set = new PieceSet(size);
    for (let i = 0; i < size; i++) set.add(i);
    return set;
  }

  get count(): number {
    return this.#count;
  }

  get complete(): boolean {
    return this.#count === this.size;
  }

  has(index: number): boolean {
    return index >= 0 && index < this.size && (this.#bits[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  /** False when the index was already there or is out of range. */
  add(index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.size || this.has(index)) return false;
    this.#bits[index >> 3]! |= 1 << (index & 7);
    this.#count++;
    return true;
  }

  delete(index: number): void {
    if (!this.has(index)) return;
    this.#bits[index >> 3]! &= ~(1 << (index & 7));
    this.#count--;
  }

  clear(): void {
    this.#bits.fill(0);
    this.#count = 0;
  }

  /** Ascending indexes, as `have` frames carry them. */
  toArray(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.size; i++) if (this.has(i)) out.push(i);
    return out;
  }
}
