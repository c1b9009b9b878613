/** Which pieces of a task one peer holds: one bit per piece, with a running count. */
export class Bitfield {
  readonly size: number;
  readonly #bits: Uint8Array;
  #count = 0;

  constructor(size: number) {
    this.size = size;
    this.#bits = new Uint8Array(Math.ceil(size / 8));
  }

  get count(): number {
    return this.#count;
  }

  get complete(): boolean {
    return this.#count === this.size;
  }

  has(index: number): boolean {
    return this.#inRange(index) && (this.#bits[index >> 3]! & (1 << (index & 7))) !== 0;
  }

  /** Sets the bit; false when it was already set or the index is out of range. */
  set(index: number): boolean {
    if (!this.#inRange(index) || this.has(index)) return false;
    this.#bits[index >> 3]! |= 1 << (index & 7);
    this.#count++;
    return true;
  }

  #inRange(index: number): boolean {
    return Number.isInteger(index) && index >= 0 && index < this.size;
  }
}
