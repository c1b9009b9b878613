import { EventEmitter } from 'node:events';
import { open, rm, type FileHandle } from 'node:fs/promises';
import type { Digest } from '@flotilla/oci';
import { ByteRanges } from './byte-ranges.ts';
import { DigestMismatchError } from './errors.ts';
import { createHasher, type Hasher } from './hasher.ts';
import type { BlobRecord, CommitMeta } from './types.ts';

/**
 * A blob being written. Writes may be positional and out of order (pieces from peers arrive in any order). Bytes
 * that extend the hashed prefix are hashed as they are handed over, while the file write runs alongside; bytes
 * beyond a gap are hashed from the temp file once the gap fills. So the whole-blob digest is known without a second
 * pass, and hashing never waits for the disk.
 */
export interface BlobWriter {
  readonly digest: Digest;
  /** Readers may open this path to stream bytes while they arrive. */
  readonly tempPath: string;
  /** Bytes [0, contiguousBytes) are in the file (not fsynced); readers may read them from tempPath. */
  readonly contiguousBytes: number;
  /**
   * Writes bytes at offset; resolves once they are in the file and the hash no longer reads them. Overlapping
   * re-delivery of the same range is allowed. The caller must not modify `bytes` until the promise settles.
   */
  write(offset: number, bytes: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /**
   * Convenience for sequential producers (origin): appends after everything appended so far. A list of chunks is
   * written with one vectored write, so network chunks need not be joined first.
   */
  append(bytes: Uint8Array | readonly Uint8Array[]): Promise<void>;
  /** 'progress' (contiguousBytes) is emitted whenever contiguousBytes grows. */
  on(event: 'progress', listener: (contiguousBytes: number) => void): this;
  off(event: 'progress', listener: (contiguousBytes: number) => void): this;
  /**
   * 'accepted' (offset, chunk) is emitted for each chunk as a write takes it, before it is in the file: readers may
   * send it at once. The chunk is valid until that write settles (pooled memory: hold it to keep it longer).
   */
  on(event: 'accepted', listener: (offset: number, chunk: Uint8Array) => void): this;
  off(event: 'accepted', listener: (offset: number, chunk: Uint8Array) => void): this;
  /**
   * Seals the writer (no more writes) and checks that the blob is complete and matches its digest, without storing
   * it yet. Once it resolves the bytes in tempPath are known good, so readers may release them before the (slow)
   * fsync of commit. On failure the temp file is deleted. Idempotent; commit() calls it.
   */
  verify(): Promise<void>;
  /**
   * Finishes: requires the blob to be complete (contiguousBytes === size when size is known), compares the computed
   * digest with the expected one, and hands the file to the store. On any failure the temp file is deleted and
   * nothing is stored (DigestMismatchError on a digest mismatch). Open read fds on tempPath stay valid (POSIX).
   */
  commit(meta: CommitMeta): Promise<BlobRecord>;
  /** Discards: closes and deletes the temp file. Idempotent. */
  abort(): Promise<void>;
}

/** Moves a complete, verified, fsynced temp file into the store and records it (implemented by ContentStore). */
export type CommitBlob = (tempPath: string, digest: Digest, size: number, meta: CommitMeta) => Promise<BlobRecord>;

export interface FileBlobWriterOptions {
  digest: Digest;
  /** Expected total size, when known. */
  size: number | undefined;
  tempPath: string;
  commitBlob: CommitBlob;
}

/** Read-back buffer size when a filled gap releases bytes that had been written beyond it. */
const READ_BACK_CHUNK = 1 << 20;

/** BlobWriter over one FileHandle on a unique temp file. */
export class FileBlobWriter extends EventEmitter implements BlobWriter {
  readonly digest: Digest;
  readonly tempPath: string;
  readonly #size: number | undefined;
  readonly #fh: FileHandle;
  readonly #hasher: Hasher;
  readonly #commitBlob: CommitBlob;
  /** Ranges in the file beyond the contiguous prefix. */
  readonly #writtenAhead = new ByteRanges();
  /** Ranges handed over beyond the hashed prefix: hashed from the file once the prefix reaches them. */
  readonly #hashAhead = new ByteRanges();
  readonly #inFlight = new Set<Promise<void>>();
  /** File writes not yet done: a read-back waits for them. */
  readonly #fileWrites = new Set<Promise<void>>();
  #contiguous = 0;
  /** Bytes [0, #hashedTo) are hashed or queued for hashing, in order. */
  #hashedTo = 0;
  #appendOffset = 0;
  /** Hash updates run strictly in order; read-backs are async, so they are chained. */
  #hashing: Promise<void> = Promise.resolve();
  /** A failed write or hash step leaves the blob unknown: it can no longer be committed. */
  #failure: unknown;
  #finished = false;
  #verification: Promise<void> | undefined;
  #committing = false;
  #readBackBuffer: Buffer | undefined;

  private constructor(options: FileBlobWriterOptions, fh: FileHandle) {
    super();
    this.digest = options.digest;
    this.tempPath = options.tempPath;
    this.#size = options.size;
    this.#fh = fh;
    this.#hasher = createHasher(options.digest, options.size);
    this.#commitBlob = options.commitBlob;
  }

  static async create(options: FileBlobWriterOptions): Promise<FileBlobWriter> {
    if (options.size !== undefined && !(Number.isSafeInteger(options.size) && options.size >= 0)) {
      throw new RangeError(`invalid blob size ${options.size}`);
    }
    // 'wx+': exclusive create (unique name) and readable, for reading back bytes written beyond a gap.
    const fh = await open(options.tempPath, 'wx+');
    return new FileBlobWriter(options, fh);
  }

  get contiguousBytes(): number {
    return this.#contiguous;
  }

  write(offset: number, bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    const chunks = Array.isArray(bytes) ? (bytes as readonly Uint8Array[]) : [bytes as Uint8Array];
    let pending: Promise<void>;
    try {
      pending = this.#write(offset, chunks);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#inFlight.add(pending);
    const forget = (): void => void this.#inFlight.delete(pending);
    pending.then(forget, forget);
    return pending;
  }

  append(bytes: Uint8Array | readonly Uint8Array[]): Promise<void> {
    // Reserve the range synchronously so appends issued without awaiting still land back to back.
    const offset = Math.max(this.#appendOffset, this.#contiguous);
    this.#appendOffset = offset + totalLength(bytes);
    return this.write(offset, bytes);
  }

  verify(): Promise<void> {
    if (!this.#verification) {
      this.#assertWritable();
      this.#finished = true;
      this.#verification = this.#checkDigest();
    }
    return this.#verification;
  }

  async commit(meta: CommitMeta): Promise<BlobRecord> {
    await this.verify();
    if (this.#committing) throw new Error(`blob writer for ${this.digest.value} is already committed`);
    this.#committing = true;
    try {
      // fdatasync: flushes the data and the file size, skipping timestamps nobody reads back.
      await this.#fh.datasync();
      await this.#fh.close();
      return await this.#commitBlob(this.tempPath, this.digest, this.#contiguous, meta);
    } catch (error) {
      await this.#discard();
      throw error;
    }
  }

  async #checkDigest(): Promise<void> {
    try {
      await Promise.allSettled(this.#inFlight);
      await this.#hashing;
      if (this.#failure !== undefined) throw this.#failure;
      const expectedSize = this.#size ?? this.#contiguous;
      if (this.#contiguous !== expectedSize || !this.#writtenAhead.isEmpty || this.#hashedTo !== expectedSize) {
        throw new Error(`blob ${this.digest.value} is incomplete: ${this.#contiguous} contiguous bytes of ${expectedSize}`);
      }
      const actual = `${this.digest.algorithm}:${await this.#hasher.digest()}`;
      if (actual !== this.digest.value) throw new DigestMismatchError(this.digest.value, actual);
    } catch (error) {
      await this.#discard();
      throw error;
    }
  }

  async abort(): Promise<void> {
    this.#finished = true;
    await this.#discard();
  }

  /** Checks, starts the file write, hands the bytes to readers and the hash; throws synchronously on a bad write. */
  #write(offset: number, chunks: readonly Uint8Array[]): Promise<void> {
    this.#assertWritable();
    const end = offset + totalLength(chunks);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid write offset ${offset}`);
    if (this.#size !== undefined && end > this.#size) {
      throw new RangeError(`write [${offset}, ${end}) exceeds the blob size ${this.#size} of ${this.digest.value}`);
    }
    const written = this.#writeFile(offset, chunks);
    let at = offset;
    for (const chunk of chunks) {
      this.emit('accepted', at, chunk);
      at += chunk.byteLength;
    }
    const hashed = this.#hashFromMemory(offset, chunks);
    this.#hashReachedAhead();
    return Promise.all([written, hashed]).then(() => undefined);
  }

  /** Writes the chunks at offset (one vectored write) and moves the contiguous prefix once they are in the file. */
  #writeFile(offset: number, chunks: readonly Uint8Array[]): Promise<void> {
    const written = (async () => {
      let { bytesWritten: done } = await this.#fh.writev(chunks as Uint8Array[], offset);
      // A short vectored write is rare on a regular file; finish the rest plainly.
      let chunkStart = 0;
      for (const chunk of chunks) {
        const chunkEnd = chunkStart + chunk.byteLength;
        while (done < chunkEnd) {
          const from = done - chunkStart;
          const { bytesWritten } = await this.#fh.write(chunk, from, chunk.byteLength - from, offset + done);
          done += bytesWritten;
        }
        chunkStart = chunkEnd;
      }
      this.#writtenAhead.add(offset, offset + done);
      const contiguous = this.#writtenAhead.extendFrom(this.#contiguous);
      if (contiguous > this.#contiguous) {
        this.#contiguous = contiguous;
        this.emit('progress', contiguous);
      }
    })();
    this.#fileWrites.add(written);
    const settled = (): void => void this.#fileWrites.delete(written);
    written.then(settled, (error: unknown) => {
      settled();
      this.#failure ??= error;
    });
    return written;
  }

  /**
   * Queues the part of the chunks that extends the hashed prefix for hashing straight from memory; a write beyond
   * the prefix is remembered, to be hashed from the file later. Resolves once the hash no longer reads the bytes.
   */
  #hashFromMemory(offset: number, chunks: readonly Uint8Array[]): Promise<void> {
    const end = offset + totalLength(chunks);
    if (offset > this.#hashedTo) {
      this.#hashAhead.add(offset, end);
      return Promise.resolve();
    }
    if (end <= this.#hashedTo) return Promise.resolve();
    const parts: Uint8Array[] = [];
    let at = offset;
    for (const chunk of chunks) {
      const from = Math.max(0, this.#hashedTo - at);
      if (from < chunk.byteLength) parts.push(from === 0 ? chunk : chunk.subarray(from));
      at += chunk.byteLength;
    }
    this.#hashedTo = end;
    const released: Promise<void>[] = [];
    const fed = this.#enqueueHashing(async () => {
      for (const part of parts) {
        const update = this.#hasher.update(part);
        if (update.released) released.push(update.released);
        await update.next;
      }
    });
    // Bytes hashed in place (shared memory) are the caller's again only once the hasher has read them.
    return fed.then(() => Promise.all(released)).then(() => undefined);
  }

  /** The hashed prefix now reaches ranges handed over beyond a gap: hash them from the file once they are there. */
  #hashReachedAhead(): void {
    const end = this.#hashAhead.extendFrom(this.#hashedTo);
    if (end <= this.#hashedTo) return;
    const start = this.#hashedTo;
    this.#hashedTo = end;
    const fileWrites = [...this.#fileWrites];
    // A failure is recorded by the hashing chain (and fails verify); nobody else waits on this step.
    this.#enqueueHashing(async () => {
      await Promise.allSettled(fileWrites);
      if (this.#failure !== undefined) throw this.#failure;
      await this.#hashFromFile(start, end);
    }).catch(() => undefined);
  }

  async #hashFromFile(start: number, end: number): Promise<void> {
    for (let at = start; at < end; ) {
      const buffer = (this.#readBackBuffer ??= Buffer.allocUnsafe(READ_BACK_CHUNK));
      const { bytesRead } = await this.#fh.read(buffer, 0, Math.min(buffer.byteLength, end - at), at);
      if (bytesRead === 0) throw new Error(`temp file ${this.tempPath} ended at ${at} while reading back`);
      const update = this.#hasher.update(buffer.subarray(0, bytesRead));
      // The read-back buffer is reused by the next read.
      await update.next;
      await update.released;
      at += bytesRead;
    }
  }

  #enqueueHashing(step: () => Promise<void>): Promise<void> {
    const run = this.#hashing.then(() => {
      if (this.#failure !== undefined) throw this.#failure;
      return step();
    });
    this.#hashing = run.catch((error: unknown) => {
      this.#failure ??= error;
    });
    return run;
  }

  async #discard(): Promise<void> {
    this.#hasher.discard();
    // FileHandle.close waits for operations in flight; closing twice rejects, which is harmless here.
    await this.#fh.close().catch(() => undefined);
    await rm(this.tempPath, { force: true });
  }

  #assertWritable(): void {
    if (this.#finished) throw new Error(`blob writer for ${this.digest.value} is already committed or aborted`);
  }
}

function totalLength(bytes: Uint8Array | readonly Uint8Array[]): number {
  if (!Array.isArray(bytes)) return (bytes as Uint8Array).byteLength;
  let total = 0;
  for (const chunk of bytes as readonly Uint8Array[]) total += chunk.byteLength;
  return total;
}
