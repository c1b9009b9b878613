import type { ContentStore } from '@flotilla/store';
import type { HeldBlob } from '@flotilla/wire';
import type { SignedMetaStore } from './meta-store.ts';

/** The blobs (not manifests) the store holds, with their signed meta when kept: what a scheduler is told on (re)registration. */
export async function* heldBlobs(store: ContentStore, metas: SignedMetaStore): AsyncGenerator<HeldBlob> {
  for await (const record of store.records()) {
    if (record.mediaType !== undefined) continue; // a manifest: fetched by clients from the origin or the store, never a task
    const signed = await metas.get(record.digest);
    yield { digest: record.digest, size: record.size, ...(signed === undefined ? {} : { signed }) };
  }
}
