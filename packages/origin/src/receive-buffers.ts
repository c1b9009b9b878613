/**
 * Reused memory for blob bodies. Sockets read straight into slabs taken from a pool (one per client), and the bytes
 * travel as views of those slabs to the file, the hash and the clients' sockets. A fresh buffer per read costs a page
 * fault per 4 KiB and garbage-collector work (on a cold 512 MiB pull that was most of the daemon's CPU time); a slab
 * goes back to the pool once nobody holds any part of it.
 *
 * The rule that keeps bytes from being overwritten while in use: whoever keeps a view beyond the current synchronous
 * step holds it (`holdBytes`) and releases it once done. Memory not from the pool is held for free.
 */

/** Slab size: also the largest single read, and the largest view a consumer gets. */
export const SLAB_BYTES = 1 << 20;
/** A slab with less room left than this is not offered for another read. */
const MIN_READ_BYTES = 64 << 10;
/** Free slabs a pool keeps for reuse unless told otherwise; beyond this they are left to the garbage collector. */
export const DEFAULT_POOLED_SLABS = 32;

/** Shared memory, so the hash worker reads the bytes where they are instead of a copy. */
class Slab {
  readonly bytes = Buffer.from(new SharedArrayBuffer(SLAB_BYTES));
  holds = 0;
  readonly pool: SlabPool;

  constructor(pool: SlabPool) {
    this.pool = pool;
  }
}

const slabOf = new WeakMap<ArrayBufferLike, Slab>();

/** Slabs that nobody holds any more, kept for the next reads (up to `maxFree`: idle memory is maxFree MiB). */
export class SlabPool {
  readonly #free: Slab[] = [];
  readonly #maxFree: number;

  constructor(maxFree = DEFAULT_POOLED_SLABS) {
    this.#maxFree = maxFree;
  }

  take(): Slab {
    const reused = this.#free.pop();
    if (reused) return reused;
    const slab = new Slab(this);
    slabOf.set(slab.bytes.buffer, slab);
    return slab;
  }

  /** A slab nobody holds any more. */
  give(slab: Slab): void {
    if (this.#free.length < this.#maxFree) this.#free.push(slab);
  }
}

function hold(slab: Slab): () => void {
  slab.holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--slab.holds === 0) slab.pool.give(slab);
  };
}

const NOT_POOLED = (): void => {};

/**
 * Keeps the memory under `bytes` from being reused until the returned function runs (it runs once; later calls do
 * nothing). Call it before the current holder lets go; bytes that are not pooled need no holding.
 */
export function holdBytes(bytes: Uint8Array): () => void {
  const slab = slabOf.get(bytes.buffer);
  return slab ? hold(slab) : NOT_POOLED;
}

/** A view of pooled memory and the release of the hold that keeps it valid. */
export interface HeldBytes {
  bytes: Buffer;
  release(): void;
}

/**
 * The read target of one socket: the unfilled rest of a slab, filled from its start by each read. Consecutive reads
 * land back to back, so a consumer can join them into one view.
 */
export class ReceiveBuffer {
  readonly #pool: SlabPool;
  #slab: Slab | undefined;
  #releaseSlab: (() => void) | undefined;
  #filled = 0;

  constructor(pool: SlabPool) {
    this.#pool = pool;
  }

  /** Where the next read goes. */
  target(): Buffer {
    if (!this.#slab || SLAB_BYTES - this.#filled < MIN_READ_BYTES) {
      this.#releaseSlab?.();
      this.#slab = this.#pool.take();
      this.#releaseSlab = hold(this.#slab);
      this.#filled = 0;
    }
    return this.#slab.bytes.subarray(this.#filled);
  }

  /** The `length` bytes the last read put into the target, held for the caller. */
  took(length: number): HeldBytes {
    const slab = this.#slab!;
    const bytes = slab.bytes.subarray(this.#filled, this.#filled + length);
    this.#filled += length;
    return { bytes, release: hold(slab) };
  }

  /** Lets go of the slab (the socket is done reading). */
  close(): void {
    this.#releaseSlab?.();
    this.#releaseSlab = undefined;
    this.#slab = undefined;
  }
}

/** Whether `next` starts where `previous` ends in the same memory (two reads that can be one view). */
export function adjacent(previous: Uint8Array, next: Uint8Array): boolean {
  return previous.buffer === next.buffer && previous.byteOffset + previous.byteLength === next.byteOffset;
}
