/** Sorted, merged, non-adjacent half-open ranges [start, end) of bytes written beyond the contiguous prefix. */
export class ByteRanges {
  readonly #ranges: Array<{ start: number; end: number }> = [];

  get isEmpty(): boolean {
    return this.#ranges.length === 0;
  }

  add(start: number, end: number): void {
    if (end <= start) return;
    const ranges = this.#ranges;
    // First range that could touch [start, end): ranges ending before `start` stay untouched.
    let i = 0;
    while (i < ranges.length && ranges[i]!.end < start) i++;
    let j = i;
    while (j < ranges.length && ranges[j]!.start <= end) {
      start = Math.min(start, ranges[j]!.start);
      end = Math.max(end, ranges[j]!.end);
      j++;
    }
    ranges.splice(i, j - i, { start, end });
  }

  /**
   * Removes every range starting at or below `offset` and returns how far the bytes from `offset` are now known to
   * extend (`offset` itself when nothing touches it).
   */
  extendFrom(offset: number): number {
    let end = offset;
    while (this.#ranges.length > 0 && this.#ranges[0]!.start <= end) {
      end = Math.max(end, this.#ranges.shift()!.end);
    }
    return end;
  }
}
