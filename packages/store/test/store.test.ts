import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile, appendFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, silentLogger, type Logger } from '@flotilla/log';
import { digestOf, parseDigest } from '@flotilla/oci';
import { ContentStore, DigestMismatchError, type BlobWriter } from '../src/index.ts';

let dir: string;
const opened: ContentStore[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-store-'));
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(opened.splice(0).map((store) => store.close().catch(() => undefined)));
  await rm(dir, { recursive: true, force: true });
});

async function openStore(logger: Logger = silentLogger()): Promise<ContentStore> {
  const store = await ContentStore.open(dir, logger);
  opened.push(store);
  return store;
}

async function closeStore(store: ContentStore): Promise<void> {
  opened.splice(opened.indexOf(store), 1);
  await store.close();
}

/** A logger whose JSON lines are kept for assertions. */
function capturingLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ name: 'store-test', level: 'debug', destination });
  const lines = () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines };
}

async function storeBlob(store: ContentStore, bytes: Buffer, source = 'origin') {
  const digest = parseDigest(digestOf(bytes));
  const writer = await store.createWriter(digest, bytes.byteLength);
  await writer.append(bytes);
  return writer.commit({ source });
}

function tmpEntries(): Promise<string[]> {
  return readdir(join(dir, 'tmp'));
}

function recordProgress(writer: BlobWriter): number[] {
  const seen: number[] = [];
  writer.on('progress', (n) => seen.push(n));
  return seen;
}

describe('ContentStore writes', () => {
  it('stores a sequentially written blob at its sharded path with its metadata', async () => {
    const store = await openStore();
    const bytes = randomBytes(3 * 1024 * 1024 + 123);
    const digest = parseDigest(digestOf(bytes));
    const writer = await store.createWriter(digest, bytes.byteLength);
    for (let offset = 0; offset < bytes.byteLength; offset += 64 * 1024) {
      await writer.append(bytes.subarray(offset, offset + 64 * 1024));
      expect(writer.contiguousBytes).toBe(Math.min(offset + 64 * 1024, bytes.byteLength));
    }
    const record = await writer.commit({ source: 'origin', mediaType: 'application/octet-stream', registry: 'r.example', repository: 'lib/x' });

    expect(record).toMatchObject({ digest: digest.value, size: bytes.byteLength, source: 'origin', registry: 'r.example', repository: 'lib/x' });
    expect(record.createdAt).toBe(record.lastAccess);
    expect(await store.stat(digest.value)).toEqual(record);
    const path = store.blobPath(digest.value);
    expect(path).toBe(join(dir, 'blobs', 'sha256', digest.hex.slice(0, 2), digest.hex));
    const stored = await readFile(path);
    expect(digestOf(stored)).toBe(digest.value);
    expect(stored.equals(bytes)).toBe(true);
    expect(await tmpEntries()).toEqual([]);
  });

  it('stores sha512 blobs of unknown size, with appends issued without awaiting', async () => {
    const store = await openStore();
    const bytes = randomBytes(200_000);
    const digest = parseDigest(digestOf(bytes, 'sha512'));
    const writer = await store.createWriter(digest);
    await Promise.all([writer.append(bytes.subarray(0, 70_000)), writer.append(bytes.subarray(70_000, 150_000)), writer.append(bytes.subarray(150_000))]);
    const record = await writer.commit({ source: 'peer' });

    expect(record.size).toBe(200_000);
    expect(store.blobPath(digest.value)).toBe(join(dir, 'blobs', 'sha512', digest.hex.slice(0, 2), digest.hex));
    expect(digestOf(await readFile(store.blobPath(digest.value)), 'sha512')).toBe(digest.value);
    expect(await store.stat(digest.value)).toEqual(record);
  });

  it('hashes out-of-order, re-delivered positional pieces and reports monotonic progress', async () => {
    const store = await openStore();
    const pieceSize = 300_001; // several pieces read back from the file span more than one read-back chunk
    const bytes = randomBytes(pieceSize * 8 - 17);
    const piece = (i: number) => ({ offset: i * pieceSize, bytes: bytes.subarray(i * pieceSize, (i + 1) * pieceSize) });
    const digest = parseDigest(digestOf(bytes));
    const writer = await store.createWriter(digest, bytes.byteLength);
    const progress = recordProgress(writer);

    for (const i of [5, 2, 7, 2, 1, 6, 0, 3, 0, 5]) {
      const { offset, bytes: slice } = piece(i);
      await writer.write(offset, slice);
    }
    expect(writer.contiguousBytes).toBe(4 * pieceSize);
    await writer.write(piece(4).offset, piece(4).bytes);
    expect(writer.contiguousBytes).toBe(bytes.byteLength);
    const record = await writer.commit({ source: 'peer' });

    expect(record.size).toBe(bytes.byteLength);
    expect((await readFile(store.blobPath(digest.value))).equals(bytes)).toBe(true);
    expect(progress.length).toBeGreaterThan(2);
    for (let i = 1; i < progress.length; i++) expect(progress[i]!).toBeGreaterThan(progress[i - 1]!);
    expect(progress.at(-1)).toBe(bytes.byteLength);
  });

  it('accepts concurrent positional writes, including one that overlaps the prefix', async () => {
    const store = await openStore();
    const bytes = randomBytes(1_000_000);
    const digest = parseDigest(digestOf(bytes));
    const writer = await store.createWriter(digest, bytes.byteLength);
    const progress = recordProgress(writer);
    const ranges: Array<[number, number]> = [[600_000, 1_000_000], [100_000, 400_000], [0, 150_000], [350_000, 700_000], [0, 50_000]];
    await Promise.all(ranges.map(([start, end]) => writer.write(start, bytes.subarray(start, end))));

    expect(writer.contiguousBytes).toBe(bytes.byteLength);
    expect(progress.at(-1)).toBe(bytes.byteLength);
    expect((await writer.commit({ source: 'peer' })).size).toBe(bytes.byteLength);
    expect((await readFile(store.blobPath(digest.value))).equals(bytes)).toBe(true);
  });

  it('lets readers read the contiguous prefix from tempPath while the blob is written', async () => {
    const store = await openStore();
    const bytes = randomBytes(10_000);
    const writer = await store.createWriter(parseDigest(digestOf(bytes)), bytes.byteLength);
    await writer.write(0, bytes.subarray(0, 4_000));
    await writer.write(6_000, bytes.subarray(6_000));
    expect(writer.contiguousBytes).toBe(4_000);
    expect((await readFile(writer.tempPath)).subarray(0, 4_000).equals(bytes.subarray(0, 4_000))).toBe(true);
    await writer.abort();
  });

  it('hands chunks to readers as it takes them; contiguousBytes counts only what is in the file', async () => {
    const store = await openStore();
    const bytes = randomBytes(8 << 20);
    const writer = await store.createWriter(parseDigest(digestOf(bytes)), bytes.byteLength);
    const accepted: number[] = [];
    writer.on('accepted', (offset, chunk) => accepted.push(offset + chunk.byteLength));
    const appends = [0, 1, 2, 3].map((i) => writer.append(bytes.subarray(i << 21, (i + 1) << 21)));
    // Taken synchronously, before any of it can be in the file.
    expect(accepted).toEqual([2 << 20, 4 << 20, 6 << 20, 8 << 20]);
    expect(writer.contiguousBytes).toBe(0);
    await Promise.all(appends);
    expect(writer.contiguousBytes).toBe(bytes.byteLength);
    expect((await writer.commit({ source: 'origin' })).size).toBe(bytes.byteLength);
  });

  it('refuses wrong bytes: DigestMismatchError, no file, no record, empty tmp', async () => {
    const store = await openStore();
    const expected = randomBytes(5_000);
    const digest = parseDigest(digestOf(expected));
    const writer = await store.createWriter(digest, expected.byteLength);
    const wrong = Buffer.from(expected);
    wrong[4_000] = wrong[4_000]! ^ 0xff;
    await writer.append(wrong);

    const error = await writer.commit({ source: 'peer' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as DigestMismatchError).expected).toBe(digest.value);
    expect((error as DigestMismatchError).actual).toBe(digestOf(wrong));
    expect(await store.stat(digest.value)).toBeUndefined();
    await expect(readFile(store.blobPath(digest.value))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await tmpEntries()).toEqual([]);
  });

  it('verify() checks the digest before commit: good bytes stay readable in tempPath, bad ones are discarded', async () => {
    const store = await openStore();
    const bytes = randomBytes(20_000);
    const good = await store.createWriter(parseDigest(digestOf(bytes)), bytes.byteLength);
    await good.append(bytes);
    await good.verify();
    expect(Buffer.compare(await readFile(good.tempPath), bytes)).toBe(0);
    await expect(good.append(bytes)).rejects.toThrow();
    const record = await good.commit({ source: 'origin' });
    expect(record.size).toBe(bytes.byteLength);

    const other = randomBytes(1_000);
    const bad = await store.createWriter(parseDigest(digestOf(other)), bytes.byteLength);
    await bad.append(bytes);
    await expect(bad.verify()).rejects.toBeInstanceOf(DigestMismatchError);
    await expect(bad.commit({ source: 'origin' })).rejects.toBeInstanceOf(DigestMismatchError);
    expect(await store.stat(digestOf(other))).toBeUndefined();
    expect(await tmpEntries()).toEqual([]);
  });

  it('writes a list of chunks with one vectored append and reports each chunk as it takes it', async () => {
    const store = await openStore();
    const chunks = [randomBytes(70_000), randomBytes(1), randomBytes(300_000), randomBytes(65_536)];
    const whole = Buffer.concat(chunks);
    const writer = await store.createWriter(parseDigest(digestOf(whole)), whole.byteLength);
    const seen: Array<[number, number]> = [];
    writer.on('accepted', (offset, chunk) => seen.push([offset, chunk.byteLength]));
    await Promise.all([writer.append(chunks.slice(0, 2)), writer.append(chunks.slice(2))]);
    expect(seen.sort((a, b) => a[0] - b[0])).toEqual([[0, 70_000], [70_000, 1], [70_001, 300_000], [370_001, 65_536]]);
    await writer.commit({ source: 'origin' });
    expect(Buffer.compare(await readFile(store.blobPath(digestOf(whole))), whole)).toBe(0);
  });

  it('hashes large blobs on the worker thread: shuffled pieces commit, a wrong byte is caught', async () => {
    const store = await openStore();
    const bytes = randomBytes(12 << 20);
    const piece = 1 << 20;
    const order = [...Array(12).keys()].sort(() => Math.random() - 0.5);
    const writer = await store.createWriter(parseDigest(digestOf(bytes)), bytes.byteLength);
    await Promise.all(order.map((i) => writer.write(i * piece, bytes.subarray(i * piece, (i + 1) * piece))));
    expect((await writer.commit({ source: 'peer' })).size).toBe(bytes.byteLength);

    const wrong = Buffer.from(bytes);
    wrong[7 << 20] = wrong[7 << 20]! ^ 1;
    // Unknown size also takes the worker path.
    const bad = await store.createWriter(parseDigest(digestOf(bytes, 'sha512')));
    await bad.append([wrong.subarray(0, 5 << 20), wrong.subarray(5 << 20)]);
    const error = await bad.commit({ source: 'origin' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
    expect((error as DigestMismatchError).actual).toBe(digestOf(wrong, 'sha512'));
  });

  it('hashes bytes in shared memory in place: a writer may reuse its buffer as soon as the write resolves', async () => {
    const store = await openStore();
    const bytes = randomBytes(16 << 20);
    const shared = Buffer.from(new SharedArrayBuffer(3 << 20));
    const writer = await store.createWriter(parseDigest(digestOf(bytes)));
    // One shared buffer refilled for every append (as the origin's pooled receive buffers are), mixed with
    // ordinary memory that takes the copying path.
    for (let at = 0; at < bytes.length; at += 3 << 20) {
      const part = bytes.subarray(at, Math.min(bytes.length, at + (3 << 20)));
      if ((at >> 20) % 2 === 0) {
        part.copy(shared);
        await writer.append([shared.subarray(0, 1 << 20), shared.subarray(1 << 20, part.length)]);
        shared.fill(0);
      } else {
        await writer.append(Buffer.from(part));
      }
    }
    expect((await writer.commit({ source: 'origin' })).size).toBe(bytes.byteLength);
    expect(Buffer.compare(await readFile(store.blobPath(digestOf(bytes))), bytes)).toBe(0);
  });

  it('refuses to commit an incomplete blob and discards it', async () => {
    const store = await openStore();
    const bytes = randomBytes(1_000);
    const digest = parseDigest(digestOf(bytes));
    const writer = await store.createWriter(digest, bytes.byteLength);
    await writer.write(0, bytes.subarray(0, 400));
    await writer.write(500, bytes.subarray(500));
    await expect(writer.commit({ source: 'peer' })).rejects.toThrow(/incomplete: 400 contiguous bytes of 1000/);
    expect(await store.stat(digest.value)).toBeUndefined();
    expect(await tmpEntries()).toEqual([]);
  });

  it('rejects writes past the expected size and any write after abort; abort is idempotent', async () => {
    const store = await openStore();
    const bytes = randomBytes(100);
    const writer = await store.createWriter(parseDigest(digestOf(bytes)), 100);
    await expect(writer.write(90, bytes.subarray(0, 20))).rejects.toBeInstanceOf(RangeError);
    await writer.abort();
    await writer.abort();
    await expect(writer.append(bytes)).rejects.toThrow(/already committed or aborted/);
    expect(await tmpEntries()).toEqual([]);
  });

  it('lets two writers of the same digest both commit to one blob', async () => {
    const store = await openStore();
    const bytes = randomBytes(50_000);
    const digest = parseDigest(digestOf(bytes));
    const [a, b] = await Promise.all([store.createWriter(digest, bytes.byteLength), store.createWriter(digest, bytes.byteLength)]);
    expect(a.tempPath).not.toBe(b.tempPath);
    await Promise.all([a.append(bytes), b.append(bytes)]);
    const [first, second] = await Promise.all([a.commit({ source: 'origin' }), b.commit({ source: 'peer' })]);

    expect(second).toEqual(first);
    expect(await store.stat(digest.value)).toEqual(first);
    expect(await readdir(dirname(store.blobPath(digest.value)))).toEqual([digest.hex]);
    expect(await tmpEntries()).toEqual([]);
  });
});

describe('ContentStore metadata', () => {
  it('throttles touch to one lastAccess write per minute', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = Date.UTC(2025, 0, 1);
    vi.setSystemTime(t0);
    const store = await openStore();
    const bytes = randomBytes(10);
    const record = await storeBlob(store, bytes);
    const lastAccess = async () => (await store.stat(record.digest))!.lastAccess;
    expect(record.lastAccess).toBe(t0);

    vi.setSystemTime(t0 + 30_000);
    await store.touch(record.digest);
    expect(await lastAccess()).toBe(t0);
    vi.setSystemTime(t0 + 61_000);
    await store.touch(record.digest);
    expect(await lastAccess()).toBe(t0 + 61_000);
    vi.setSystemTime(t0 + 100_000);
    await store.touch(record.digest);
    expect(await lastAccess()).toBe(t0 + 61_000);
    vi.setSystemTime(t0 + 125_000);
    await store.touch(record.digest);
    expect(await lastAccess()).toBe(t0 + 125_000);
    expect((await store.stat(record.digest))!.createdAt).toBe(t0);
  });

  it('delete removes the file and the record; touch does not resurrect it', async () => {
    const store = await openStore();
    const record = await storeBlob(store, randomBytes(1_000));
    await Promise.all([store.delete(record.digest), store.touch(record.digest)]);
    expect(await store.stat(record.digest)).toBeUndefined();
    await expect(readFile(store.blobPath(record.digest))).rejects.toMatchObject({ code: 'ENOENT' });
    await store.touch(record.digest);
    expect(await store.stat(record.digest)).toBeUndefined();
  });

  it('round-trips tag resolutions and persists everything across close/reopen', async () => {
    const store = await openStore();
    const bytes = randomBytes(2_000);
    const record = await storeBlob(store, bytes);
    const resolution = { digest: record.digest, mediaType: 'application/vnd.oci.image.index.v1+json', size: 2_000, resolvedAt: 1234 };
    await store.putTagResolution('r.example/lib/x:latest', resolution);
    expect(await store.getTagResolution('r.example/lib/x:latest')).toEqual(resolution);
    expect(await store.getTagResolution('r.example/lib/x:other')).toBeUndefined();
    await closeStore(store);

    const reopened = await openStore();
    expect(await reopened.stat(record.digest)).toEqual(record);
    expect(await reopened.getTagResolution('r.example/lib/x:latest')).toEqual(resolution);
    expect((await readFile(reopened.blobPath(record.digest))).equals(bytes)).toBe(true);
  });
});

describe('ContentStore crash recovery', () => {
  it('cleans tmp, orphan files and broken records on open, keeps good blobs and logs counts and bytes', async () => {
    const store = await openStore();
    const good = await storeBlob(store, randomBytes(3_000));
    const missing = await storeBlob(store, randomBytes(4_000));
    const resized = await storeBlob(store, randomBytes(5_000));
    const paths = { good: store.blobPath(good.digest), missing: store.blobPath(missing.digest), resized: store.blobPath(resized.digest) };
    await closeStore(store);

    // A partial download, a blob renamed into place without its record, a record whose file vanished,
    // and a record whose file has the wrong size.
    await writeFile(join(dir, 'tmp', 'sha256-partial-abc'), randomBytes(700));
    const orphanBytes = randomBytes(600);
    const orphan = parseDigest(digestOf(orphanBytes));
    const orphanPath = join(dir, 'blobs', 'sha256', orphan.hex.slice(0, 2), orphan.hex);
    await mkdir(dirname(orphanPath), { recursive: true });
    await writeFile(orphanPath, orphanBytes);
    await rm(paths.missing);
    await appendFile(paths.resized, randomBytes(10));

    const { logger, lines } = capturingLogger();
    const reopened = await openStore(logger);

    expect(await reopened.stat(good.digest)).toEqual(good);
    expect(await readFile(paths.good).then((b) => digestOf(b))).toBe(good.digest);
    expect(await reopened.stat(missing.digest)).toBeUndefined();
    expect(await reopened.stat(resized.digest)).toBeUndefined();
    await expect(readFile(paths.resized)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFile(orphanPath)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await tmpEntries()).toEqual([]);

    const summary = lines().find((line) => line.msg === 'content store recovered from an unclean state');
    expect(summary).toMatchObject({
      tempFiles: 1,
      tempBytes: 700,
      droppedRecords: 2,
      droppedRecordBytes: 9_000,
      orphanFiles: 2,
      orphanBytes: 600 + 5_010,
      blobs: 1,
      blobBytes: 3_000,
    });

    // The cleaned store works as before: the dropped blobs can be stored again.
    const again = await storeBlob(reopened, orphanBytes);
    expect(again.digest).toBe(orphan.value);
  });

  it('logs a clean open at info level', async () => {
    await closeStore(await openStore());
    const { logger, lines } = capturingLogger();
    await openStore(logger);
    expect(lines().find((line) => line.msg === 'content store opened')).toMatchObject({ level: 30, tempFiles: 0, orphanFiles: 0, droppedRecords: 0, blobs: 0 });
  });
});
