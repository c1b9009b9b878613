import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseDigest } from '@flotilla/oci';
import type { ContentStore } from '@flotilla/store';
import { isCompleteMeta, metaSignatureOf, taskMetaOf, type SignedTaskMeta } from '@flotilla/wire';

/**
 * Signed task meta of the blobs this daemon holds, one small JSON file per digest, so it survives restarts and can
 * be handed to other daemons (`meta` on the piece protocol) and to a scheduler that comes back. Only meta already
 * accepted (trusted signer) is put here; it goes when the blob is deleted from the store.
 */
export class SignedMetaStore {
  readonly #dir: string;
  readonly #store: ContentStore;

  constructor(dir: string, store: ContentStore) {
    this.#dir = dir;
    this.#store = store;
    store.events.on('deleted', this.#onDeleted);
  }

  async get(digest: string): Promise<SignedTaskMeta | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path(digest), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const value = JSON.parse(text) as { meta: unknown; signature: unknown };
      const meta = taskMetaOf(value.meta, 'meta');
      if (meta.digest !== digest || !isCompleteMeta(meta)) return undefined;
      return { meta, signature: metaSignatureOf(value.signature, 'signature') };
    } catch {
      return undefined; // a damaged file is as good as none
    }
  }

  async put(signed: SignedTaskMeta): Promise<void> {
    const path = this.#path(signed.meta.digest);
    await mkdir(join(path, '..'), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    await writeFile(temp, JSON.stringify(signed));
    await rename(temp, path);
  }

  close(): void {
    this.#store.events.off('deleted', this.#onDeleted);
  }

  readonly #onDeleted = (digest: string): void => {
    void rm(this.#path(digest), { force: true }).catch(() => undefined);
  };

  #path(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return join(this.#dir, algorithm, `${hex}.json`);
  }
}
