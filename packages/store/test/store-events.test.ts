import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@flotilla/log';
import { digestOf, parseDigest } from '@flotilla/oci';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContentStore, type BlobRecord } from '../src/index.ts';

let dir: string;
let store: ContentStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-store-events-'));
  store = await ContentStore.open(dir, silentLogger());
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

async function put(bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  const writer = await store.createWriter(parseDigest(digest), bytes.length);
  await writer.write(0, bytes);
  await writer.commit({ source: 'test' });
  return digest;
}

describe('store holdings', () => {
  it('tells listeners of each newly committed blob once, and of deletions', async () => {
    const committed: BlobRecord[] = [];
    const deleted: string[] = [];
    store.events.on('committed', (record) => committed.push(record));
    store.events.on('deleted', (digest) => deleted.push(digest));
    const bytes = randomBytes(1000);
    const digest = await put(bytes);
    await put(bytes); // already there: no second event
    expect(committed.map((r) => [r.digest, r.size])).toEqual([[digest, 1000]]);
    await store.delete(digest);
    expect(deleted).toEqual([digest]);
  });

  it('lists the records of every committed blob', async () => {
    const digests = [await put(randomBytes(10)), await put(randomBytes(20))];
    const listed: BlobRecord[] = [];
    for await (const record of store.records()) listed.push(record);
    expect(listed.map((r) => r.digest).sort()).toEqual([...digests].sort());
  });
});
