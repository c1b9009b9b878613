import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys';
import type { PrivateKey } from '@libp2p/interface';

/**
 * The node's long-lived Ed25519 key (protobuf, mode 0600). Created on first start and reused after, so the
 * peer id — which other peers and the scheduler remember — survives restarts.
 */
export async function loadOrCreateIdentity(path: string): Promise<PrivateKey> {
  const existing = await readKey(path);
  if (existing !== undefined) return existing;

  const key = await generateKeyPair('Ed25519');
  await mkdir(dirname(path), { recursive: true });
  try {
    // 'wx' refuses to clobber a key another process wrote in the meantime; that key wins.
    await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readKey(path)) ?? key;
    throw err;
  }
  await chmod(path, 0o600); // writeFile's mode is filtered by the umask; make it exactly owner-only
  return key;
}

async function readKey(path: string): Promise<PrivateKey | undefined> {
  try {
    return privateKeyFromProtobuf(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
