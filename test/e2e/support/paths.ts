import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from '@flotilla/test';

function hexOf(digest: string): string {
  const hex = digest.split(':')[1];
  if (!hex) throw new Error(`not a digest: ${digest}`);
  return hex;
}

/** The file docker-registry (filesystem driver) serves a blob's bytes from; tests corrupt it in place. */
export function registryBlobDataPath(registry: Registry, digest: string): string {
  const hex = hexOf(digest);
  return join(registry.root, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

/** Where the daemon's store keeps a committed blob (packages/store/src/layout.ts). */
export function storeBlobPath(dataDir: string, digest: string): string {
  const hex = hexOf(digest);
  return join(dataDir, 'store', 'blobs', 'sha256', hex.slice(0, 2), hex);
}

/** The store's temp dir, where downloads in progress live until they are verified. */
export function storeTmpDir(dataDir: string): string {
  return join(dataDir, 'store', 'tmp');
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export async function listDir(path: string): Promise<string[]> {
  return readdir(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
}
