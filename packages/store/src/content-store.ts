import { EventEmitter } from 'node:events';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '@flotilla/log';
import { parseDigest, type Digest } from '@flotilla/oci';
import { FileBlobWriter, type BlobWriter } from './blob-writer.ts';
import { startHashWorker } from './hasher.ts';
import { KeyedLock } from './keyed-lock.ts';
import { DIGEST_ALGORITHMS, StoreLayout } from './layout.ts';
import { openMetaDb, type MetaDb } from './meta-db.ts';
import { recoverStore } from './recovery.ts';
import type { BlobRecord, CommitMeta, TagResolution } from './types.ts';

/** A hot blob writes its lastAccess at most this often. */
const TOUCH_INTERVAL_MS = 60_000;
/** Past this many remembered touches, forget the ones whose throttle window has ended. */
const TOUCH_MEMORY_PRUNE_AT = 10_000;

/**
 * The daemon's on-disk content-addressed store: blob files under blobs/<alg>/<2 hex>/<hex>, temp files in tmp/,
 * LevelDB metadata in meta/. A metadata record exists only for a complete, fsynced file.
 */
export class ContentStore {
  readonly #layout: StoreLayout;
  readonly #meta: MetaDb;
  /** Serializes record read-modify-writes (touch, commit, delete) per digest. */
  readonly #recordLock = new KeyedLock();
  /** digest → ms of the last lastAccess write, for throttling touch. */
  readonly #lastTouchWrite = new Map<string, number>();
  /** `committed` (record) when a blob is newly stored, `deleted` (digest) when one is removed: what others announce. */
  readonly events = new EventEmitter<{ committed: [BlobRecord]; deleted: [string] }>();

  private constructor(layout: StoreLayout, meta: MetaDb) {
    this.#layout = layout;
    this.#meta = meta;
  }

  /** Opens (creating) `dir` and cleans up after a crash (see recoverStore); logs what it cleaned. */
  static async open(dir: string, logger: Logger): Promise<ContentStore> {
    const layout = new StoreLayout(dir);
    for (const algorithm of DIGEST_ALGORITHMS) await mkdir(layout.algorithmDir(algorithm), { recursive: true });
    await mkdir(layout.tmpDir, { recursive: true });
    // The LevelDB LOCK is taken first, so a second process on the same dir fails before touching tmp/.
    const meta = await openMetaDb(layout.metaDir);
    try {
      await recoverStore(layout, meta.blobs, logger.child({ component: 'store', dir }));
    } catch (error) {
      await meta.db.close();
      throw error;
    }
    startHashWorker();
    return new ContentStore(layout, meta);
  }

  /** Committed entries only; undefined when absent. */
  async stat(digest: string): Promise<BlobRecord | undefined> {
    return this.#meta.blobs.get(parseDigest(digest).value);
  }

  /** The records of every committed blob. */
  async *records(): AsyncGenerator<BlobRecord> {
    for await (const record of this.#meta.blobs.values()) yield record;
  }

  /** Absolute path of a committed blob file (whether or not it exists). */
  blobPath(digest: string): string {
    return this.#layout.blobPath(parseDigest(digest));
  }

  /** Marks an access (LRU data for a later GC), writing LevelDB at most once per minute per digest. */
  async touch(digest: string): Promise<void> {
    const key = parseDigest(digest).value;
    const now = Date.now();
    const last = this.#lastTouchWrite.get(key);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    this.#rememberTouch(key, now);
    await this.#recordLock.run(key, async () => {
      const record = await this.#meta.blobs.get(key);
      if (record !== undefined) await this.#meta.blobs.put(key, { ...record, lastAccess: now });
    });
  }

  /** Starts writing a new blob; `size` is the expected total size when known. */
  async createWriter(digest: Digest, size?: number): Promise<BlobWriter> {
    return FileBlobWriter.create({
      digest,
      size,
      tempPath: this.#layout.newTempPath(digest),
      commitBlob: (tempPath, verified, verifiedSize, meta) => this.#commitBlob(tempPath, verified, verifiedSize, meta),
    });
  }

  /** Removes the record first, then the file, so a record never points at a missing file. */
  async delete(digest: string): Promise<void> {
    const parsed = parseDigest(digest);
    await this.#recordLock.run(parsed.value, async () => {
      await this.#meta.blobs.del(parsed.value);
      this.#lastTouchWrite.delete(parsed.value);
      await rm(this.#layout.blobPath(parsed), { force: true });
    });
    this.events.emit('deleted', parsed.value);
  }

  async putTagResolution(key: string, value: TagResolution): Promise<void> {
    await this.#meta.tags.put(key, value);
  }

  async getTagResolution(key: string): Promise<TagResolution | undefined> {
    return this.#meta.tags.get(key);
  }

  async close(): Promise<void> {
    await this.#meta.db.close();
  }

  /** Called by a writer with a verified, fsynced, closed temp file. */
  async #commitBlob(tempPath: string, digest: Digest, size: number, meta: CommitMeta): Promise<BlobRecord> {
    const { record, stored } = await this.#recordLock.run(digest.value, async () => {
      const existing = await this.#meta.blobs.get(digest.value);
      if (existing !== undefined) {
        // A concurrent writer got there first; the content is identical by digest.
        await rm(tempPath, { force: true });
        return { record: existing, stored: false };
      }
      const shardDir = this.#layout.shardDir(digest);
      const createdShard = await mkdir(shardDir, { recursive: true });
      await rename(tempPath, this.#layout.blobPath(digest));
      await fsyncDirectory(shardDir);
      if (createdShard !== undefined) await fsyncDirectory(dirname(shardDir));
      const now = Date.now();
      const record: BlobRecord = { digest: digest.value, size, ...recordMeta(meta), createdAt: now, lastAccess: now };
      await this.#meta.blobs.put(digest.value, record);
      this.#rememberTouch(digest.value, now);
      return { record, stored: true };
    });
    if (stored) this.events.emit('committed', record);
    return record;
  }

  #rememberTouch(key: string, now: number): void {
    if (this.#lastTouchWrite.size >= TOUCH_MEMORY_PRUNE_AT) {
      for (const [digest, at] of this.#lastTouchWrite) {
        if (now - at >= TOUCH_INTERVAL_MS) this.#lastTouchWrite.delete(digest);
      }
    }
    this.#lastTouchWrite.set(key, now);
  }
}

/** Makes a rename durable: the directory entry itself must reach the disk. */
async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The record's share of the commit metadata, without undefined fields (so records round-trip through JSON unchanged). */
function recordMeta(meta: CommitMeta): CommitMeta {
  const picked: CommitMeta = { source: meta.source };
  if (meta.mediaType !== undefined) picked.mediaType = meta.mediaType;
  if (meta.registry !== undefined) picked.registry = meta.registry;
  if (meta.repository !== undefined) picked.repository = meta.repository;
  return picked;
}
