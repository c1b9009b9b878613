import { Level } from 'level';
import type { BlobRecord, TagResolution } from './types.ts';

/** Opens the LevelDB metadata database: one sublevel of blob records and one of tag resolutions, JSON values. */
export async function openMetaDb(path: string) {
  const db = new Level<string, unknown>(path, { valueEncoding: 'json' });
  // Opening explicitly surfaces a held LOCK (another process using the same store) here rather than on first use.
  await db.open();
  return {
    db,
    blobs: db.sublevel<string, BlobRecord>('blobs', { valueEncoding: 'json' }),
    tags: db.sublevel<string, TagResolution>('tags', { valueEncoding: 'json' }),
  };
}

export type MetaDb = Awaited<ReturnType<typeof openMetaDb>>;
export type BlobTable = MetaDb['blobs'];
