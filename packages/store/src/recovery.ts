import { lstat, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@flotilla/log';
import { parseDigest } from '@flotilla/oci';
import { DIGEST_ALGORITHMS, type StoreLayout } from './layout.ts';
import type { BlobTable } from './meta-db.ts';

/** What opening the store found and cleaned. */
export interface RecoveryReport {
  /** Partial downloads left in tmp/ by a crash. */
  tempFiles: number;
  tempBytes: number;
  /** Records dropped because their file was missing or had the wrong size. */
  droppedRecords: number;
  droppedRecordBytes: number;
  /** Blob files without a record (crash between rename and metadata put, or a dropped record's file). */
  orphanFiles: number;
  orphanBytes: number;
  /** Committed blobs that survived. */
  blobs: number;
  blobBytes: number;
}

/**
 * Restores the invariant "a record exists only for a complete file, and every file has a record" after a crash.
 * Must run before any writer is created: it empties tmp/.
 */
export async function recoverStore(layout: StoreLayout, blobs: BlobTable, logger: Logger): Promise<RecoveryReport> {
  const temp = await clearDirectory(layout.tmpDir);
  const records = await dropBrokenRecords(layout, blobs, logger);
  const orphans = await deleteOrphanFiles(layout, records.kept, logger);
  const report: RecoveryReport = {
    tempFiles: temp.count,
    tempBytes: temp.bytes,
    droppedRecords: records.dropped,
    droppedRecordBytes: records.droppedBytes,
    orphanFiles: orphans.count,
    orphanBytes: orphans.bytes,
    blobs: records.kept.size,
    blobBytes: records.keptBytes,
  };
  const cleaned = report.tempFiles + report.droppedRecords + report.orphanFiles > 0;
  logger[cleaned ? 'warn' : 'info'](report, cleaned ? 'content store recovered from an unclean state' : 'content store opened');
  return report;
}

interface Tally {
  count: number;
  bytes: number;
}

async function clearDirectory(dir: string): Promise<Tally> {
  const tally: Tally = { count: 0, bytes: 0 };
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    tally.bytes += (await lstat(path)).size;
    tally.count++;
    await rm(path, { recursive: true, force: true });
  }
  return tally;
}

async function dropBrokenRecords(layout: StoreLayout, blobs: BlobTable, logger: Logger) {
  const kept = new Set<string>();
  let keptBytes = 0;
  const broken: Array<{ key: string; size: number }> = [];
  for await (const [key, record] of blobs.iterator()) {
    const problem = await recordProblem(layout, key, record.size);
    if (problem === undefined) {
      kept.add(key);
      keptBytes += record.size;
    } else {
      logger.warn({ digest: key, size: record.size, problem }, 'dropping blob record');
      broken.push({ key, size: record.size });
    }
  }
  await blobs.batch(broken.map(({ key }) => ({ type: 'del' as const, key })));
  const droppedBytes = broken.reduce((sum, { size }) => sum + size, 0);
  return { kept, keptBytes, dropped: broken.length, droppedBytes };
}

async function recordProblem(layout: StoreLayout, key: string, size: number): Promise<string | undefined> {
  let path: string;
  try {
    path = layout.blobPath(parseDigest(key));
  } catch {
    return 'invalid digest key';
  }
  const file = await stat(path).catch(() => undefined);
  if (file === undefined) return 'file missing';
  if (!file.isFile() || file.size !== size) return `file has ${file.size} bytes, record says ${size}`;
  return undefined;
}

async function deleteOrphanFiles(layout: StoreLayout, kept: ReadonlySet<string>, logger: Logger): Promise<Tally> {
  const tally: Tally = { count: 0, bytes: 0 };
  for (const algorithm of DIGEST_ALGORITHMS) {
    const algorithmDir = layout.algorithmDir(algorithm);
    for (const shard of await readdir(algorithmDir, { withFileTypes: true })) {
      if (!shard.isDirectory()) continue;
      const shardDir = join(algorithmDir, shard.name);
      for (const name of await readdir(shardDir)) {
        if (kept.has(`${algorithm}:${name}`)) continue;
        const path = join(shardDir, name);
        const size = (await lstat(path)).size;
        logger.warn({ path, size }, 'deleting blob file without a record');
        await rm(path, { recursive: true, force: true });
        tally.count++;
        tally.bytes += size;
      }
    }
  }
  return tally;
}
