import { Worker } from 'node:worker_threads';
import { hasherFor, type Digest } from '@flotilla/oci';
import type { HashReply, HashRequest } from './hash-worker.ts';

/** What an update asks of its caller. */
export interface HashUpdate {
  /** The next update may be fed once this settles (backpressure); absent when at once. */
  next?: Promise<void>;
  /** The hasher no longer reads the bytes once this settles (later than `next` when they are hashed in place). */
  released?: Promise<void>;
}

/** An incremental digest. Updates must be fed in order, each after the previous one's `next`. */
export interface Hasher {
  update(bytes: Uint8Array): HashUpdate;
  /** The hex digest of everything updated; the hasher is done after this. */
  digest(): Promise<string>;
  /** Drops the session without a result. */
  discard(): void;
}

/** Blobs below this size hash inline: a worker round trip costs more than it saves. */
const WORKER_MIN_BYTES = 4 << 20;
const BATCH_BYTES = 1 << 20;
/** Batches handed to the worker and not yet returned; beyond this `update` waits. */
const MAX_OUTSTANDING = 4;

/** sha256 runs near 2 GB/s on one core, the same order as a cold pull: hashing on a worker frees the main thread. */
export function createHasher(digest: Digest, expectedSize: number | undefined): Hasher {
  if (expectedSize !== undefined && expectedSize < WORKER_MIN_BYTES) return inlineHasher(digest);
  return HashWorkerClient.shared().open(digest);
}

/**
 * Boots the hash worker ahead of the first large blob: it takes ~80 ms to start (loading its module), during which
 * a cold pull's hashing, and so its clients, would wait.
 */
export function startHashWorker(): void {
  HashWorkerClient.shared();
}

function inlineHasher(digest: Digest): Hasher {
  const hash = hasherFor(digest);
  return {
    update: (bytes) => {
      hash.update(bytes);
      return {};
    },
    digest: async () => hash.digest('hex'),
    discard: () => {},
  };
}

/**
 * One worker thread shared by every blob being written in this process; sessions keep blobs apart. Bytes in shared
 * memory (the origin's pooled receive buffers) are hashed where they are; other bytes are copied into batches that
 * are handed over and back.
 */
class HashWorkerClient {
  static #instance: HashWorkerClient | undefined;
  readonly #worker: Worker;
  readonly #free: ArrayBuffer[] = [];
  readonly #waitingForBuffer: Array<() => void> = [];
  readonly #digests = new Map<number, (hex: string) => void>();
  /** Shared-memory updates the worker has not finished reading, by request id. */
  readonly #reading = new Map<number, () => void>();
  #outstanding = 0;
  #nextSession = 1;
  #nextRead = 1;
  #openSessions = 0;

  static shared(): HashWorkerClient {
    return (HashWorkerClient.#instance ??= new HashWorkerClient());
  }

  private constructor() {
    this.#worker = new Worker(new URL('./hash-worker.ts', import.meta.url));
    this.#worker.on('message', (reply: HashReply) => this.#onReply(reply));
    // After the listener: adding it refs the worker's port again, which kept an idle daemon from exiting.
    this.#worker.unref();
  }

  open(digest: Digest): Hasher {
    const session = this.#nextSession++;
    this.#post({ kind: 'open', session, algorithm: digest.algorithm });
    this.#openSessions++;
    let batch: Uint8Array | undefined;
    let filled = 0;
    let finished = false;
    const flush = () => {
      if (!batch || filled === 0) return;
      this.#post({ kind: 'update', session, buffer: batch.buffer as ArrayBuffer, length: filled }, [batch.buffer as ArrayBuffer]);
      batch = undefined;
      filled = 0;
    };
    const copy = async (bytes: Uint8Array) => {
      let offset = 0;
      while (offset < bytes.byteLength) {
        if (!batch) {
          batch = new Uint8Array(await this.#takeBuffer());
          filled = 0;
        }
        const n = Math.min(bytes.byteLength - offset, batch.byteLength - filled);
        batch.set(bytes.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === batch.byteLength) flush();
      }
    };
    const finish = () => {
      finished = true;
      this.#releaseWorkerIfIdle();
    };
    return {
      update: (bytes) => {
        if (!(bytes.buffer instanceof SharedArrayBuffer)) {
          const copied = copy(bytes);
          return { next: copied, released: copied };
        }
        flush();
        const id = this.#nextRead++;
        const released = new Promise<void>((resolve) => this.#reading.set(id, resolve));
        this.#post({ kind: 'update-shared', session, id, buffer: bytes.buffer, offset: bytes.byteOffset, length: bytes.byteLength });
        return { released };
      },
      digest: () => {
        flush();
        const result = new Promise<string>((resolve) => this.#digests.set(session, resolve));
        this.#post({ kind: 'digest', session });
        this.#openSessions--;
        finish();
        return result;
      },
      discard: () => {
        if (finished) return;
        if (batch) this.#free.push(batch.buffer as ArrayBuffer);
        batch = undefined;
        this.#post({ kind: 'close', session });
        this.#openSessions--;
        finish();
      },
    };
  }

  async #takeBuffer(): Promise<ArrayBuffer> {
    while (this.#free.length === 0 && this.#outstanding >= MAX_OUTSTANDING) {
      await new Promise<void>((resolve) => this.#waitingForBuffer.push(resolve));
    }
    this.#outstanding++;
    return this.#free.pop() ?? new ArrayBuffer(BATCH_BYTES);
  }

  #post(message: HashRequest, transfer: ArrayBuffer[] = []): void {
    this.#worker.ref();
    this.#worker.postMessage(message, transfer);
  }

  #onReply(reply: HashReply): void {
    switch (reply.kind) {
      case 'done':
        this.#outstanding--;
        this.#free.push(reply.buffer);
        this.#waitingForBuffer.shift()?.();
        return;
      case 'read':
        this.#reading.get(reply.id)?.();
        this.#reading.delete(reply.id);
        this.#releaseWorkerIfIdle();
        return;
      case 'digest':
        this.#digests.get(reply.session)?.(reply.hex);
        this.#digests.delete(reply.session);
        this.#releaseWorkerIfIdle();
        return;
    }
  }

  /** Lets the process exit while nothing waits on the worker. */
  #releaseWorkerIfIdle(): void {
    if (this.#openSessions === 0 && this.#digests.size === 0 && this.#reading.size === 0) this.#worker.unref();
  }
}
