import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Digest, DigestAlgorithm } from '@flotilla/oci';

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['sha256', 'sha512'];

/** Where everything lives under the store root; the only module that knows the on-disk shape. */
export class StoreLayout {
  readonly root: string;
  readonly blobsDir: string;
  readonly tmpDir: string;
  readonly metaDir: string;

  constructor(root: string) {
    this.root = root;
    this.blobsDir = join(root, 'blobs');
    this.tmpDir = join(root, 'tmp');
    this.metaDir = join(root, 'meta');
  }

  algorithmDir(algorithm: DigestAlgorithm): string {
    return join(this.blobsDir, algorithm);
  }

  /** Sharded by the first two hex characters so no directory grows to millions of entries. */
  shardDir(digest: Digest): string {
    return join(this.algorithmDir(digest.algorithm), digest.hex.slice(0, 2));
  }

  blobPath(digest: Digest): string {
    return join(this.shardDir(digest), digest.hex);
  }

  /** A fresh, unique temp path: two writers for the same digest never share a file. */
  newTempPath(digest: Digest): string {
    return join(this.tmpDir, `${digest.algorithm}-${digest.hex}-${randomBytes(6).toString('hex')}`);
  }
}
