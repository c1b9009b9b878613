import { holdBytes } from '@flotilla/origin';

/**
 * The most recently written chunks of a download. Readers that keep up with the source send these very buffers
 * instead of reading the temp file back (no copy, no allocation); readers that fall behind read the file. Chunks may
 * be pooled memory (see holdBytes): each is held while it is here.
 */
export class RecentChunks {
  readonly #maxBytes: number;
  readonly #chunks: Array<{ offset: number; bytes: Uint8Array; release: () => void }> = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  add(offset: number, bytes: Uint8Array): void {
    this.#chunks.push({ offset, bytes, release: holdBytes(bytes) });
    this.#bytes += bytes.byteLength;
    while (this.#bytes > this.#maxBytes && this.#chunks.length > 1) {
      const oldest = this.#chunks.shift()!;
      this.#bytes -= oldest.bytes.byteLength;
      oldest.release();
    }
  }

  /**
   * The held bytes starting at `pos` and ending before `limit`, or undefined when none are held. A caller that keeps
   * them past the current synchronous step holds them itself (holdBytes) first.
   */
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

  /** Lets go of every chunk (the download is over; late readers use the file). */
  clear(): void {
    for (const chunk of this.#chunks.splice(0)) chunk.release();
    this.#bytes = 0;
  }
}
