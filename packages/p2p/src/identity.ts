import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

/**
 * The node's long-lived Ed25519 key (protobuf, mode 0600). Created on first start and reused after, so the
 * peer id — which other peers and the scheduler remember — survives restarts.
 */
export async function loadOrCreateIdentity(path: string): Promise<PrivateKey> {
  let existing: Uint8Array | undefined;
  try {
    existing = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (existing !== undefined) return privateKeyFromProtobuf(existing);

  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true });
  // 'wx' refuses to clobber a key another process wrote in the meantime.
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  await chmod(path, 0o600); // the umask may have narrowed it further, never widen beyond owner-only
  return key;
}
