/**
 * The most recently written chunks of a download. Readers that keep up with the source send these very buffers
 * instead of reading the temp file back (no copy, no allocation); readers that fall behind read the file.
 */
export class RecentChunks {
  readonly #maxBytes: number;
  readonly #chunks: Array<{ offset: number; bytes: Uint8Array }> = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  add(offset: number, bytes: Uint8Array): void {
    this.#chunks.push({ offset, bytes });
    this.#bytes += bytes.byteLength;
    while (this.#bytes > this.#maxBytes && this.#chunks.length > 1) {
      this.#bytes -= this.#chunks.shift()!.bytes.byteLength;
    }
  }

  /** The held bytes starting at `pos` and ending before `limit`, or undefined when none are held. */
  slice(pos: number, limit: number): Uint8Array | undefined {
    // Newest first: a reader that keeps up asks for what was just written.
    for (let i = this.#chunks.length - 1; i >= 0; i--) {
      const { offset, bytes } = this.#chunks[i]!;
      if (offset <= pos && pos < offset + bytes.byteLength) {
        const end = Math.min(bytes.byteLength, limit - offset);
        return end > pos - offset ? bytes.subarray(pos - offset, end) : undefined;
      }
    }
    return undefined;
  }
}
