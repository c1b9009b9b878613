/**
 * Reused memory for blob bodies. Sockets read straight into slabs taken from a process-wide pool, and the bytes
 * travel as views of those slabs to the file, the hash and the clients' sockets. A fresh buffer per read costs a page
 * fault per 4 KiB and garbage-collector work (on a cold 512 MiB pull that was most of the daemon's CPU time); a slab
 * goes back to the pool once nobody holds any part of it.
 *
 * The rule that keeps bytes from being overwritten while in use: whoever keeps a view beyond the current synchronous
 * step holds it (`holdBytes`) and releases it once done. Memory not from the pool is held for free.
 */

/** Slab size: also the largest single read, and the largest view a consumer gets. */
const SLAB_BYTES = 1 << 20;
/** A slab with less room left than this is not offered for another read. */
const MIN_READ_BYTES = 64 << 10;
/** Free slabs kept for reuse; beyond this they are left to the garbage collector. */
const MAX_FREE_SLABS = 32;

/** Shared memory, so the hash worker reads the bytes where they are instead of a copy. */
class Slab {
  readonly bytes = Buffer.from(new SharedArrayBuffer(SLAB_BYTES));
  holds = 0;
}

const slabOf = new WeakMap<ArrayBufferLike, Slab>();
const freeSlabs: Slab[] = [];

function takeSlab(): Slab {
  const reused = freeSlabs.pop();
  if (reused) return reused;
  const slab = new Slab();
  slabOf.set(slab.bytes.buffer, slab);
  return slab;
}

function hold(slab: Slab): () => void {
  slab.holds++;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--slab.holds === 0 && freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(slab);
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
  #slab: Slab | undefined;
  #releaseSlab: (() => void) | undefined;
  #filled = 0;

  /** Where the next read goes. */
  target(): Buffer {
    if (!this.#slab || SLAB_BYTES - this.#filled < MIN_READ_BYTES) {
      this.#releaseSlab?.();
      this.#slab = takeSlab();
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
