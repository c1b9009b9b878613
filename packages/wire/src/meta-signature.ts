import type { PrivateKey } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { WireError } from './errors.ts';
import type { TaskMeta } from './sched-messages.ts';
import { Fields, peerIdValue, stringValue } from './validate.ts';

/**
 * A scheduler's Ed25519 signature (its libp2p key) over a blob's complete TaskMeta. Daemons hand signed meta to
 * each other with pieces; a receiver uses the piece digests only when the signer is a scheduler it trusts, so a
 * peer cannot make others accept bytes the seeding scheduler never hashed.
 */
export interface MetaSignature {
  /** Peer id of the signing scheduler (Ed25519 ids embed the public key). */
  signer: string;
  /** base64 of the signature over taskMetaBytes(meta). */
  signature: string;
}

/** A TaskMeta with every piece digest known, and the signature over it. */
export interface SignedTaskMeta {
  meta: TaskMeta & { pieceDigests: string[] };
  signature: MetaSignature;
}

const DOMAIN = 'flotilla-task-meta/1';
/** base64 of a 64-byte Ed25519 signature is 88 characters; leave room for other key types. */
const MAX_SIGNATURE_LENGTH = 1024;

/** Every piece digest is known. */
export function isCompleteMeta(meta: TaskMeta): meta is SignedTaskMeta['meta'] {
  return meta.pieceDigests.length === meta.pieceCount && meta.pieceDigests.every((d) => d !== null);
}

/** The signed bytes: a domain tag, then digest, size, piece length and each piece digest, one per line. */
export function taskMetaBytes(meta: SignedTaskMeta['meta']): Uint8Array {
  return new TextEncoder().encode([DOMAIN, meta.digest, meta.size, meta.pieceLength, ...meta.pieceDigests].join('\n'));
}

export async function signTaskMeta(meta: TaskMeta, key: PrivateKey, signer: string): Promise<MetaSignature> {
  if (!isCompleteMeta(meta)) throw new Error(`cannot sign the meta of ${meta.digest}: piece digests are missing`);
  const signature = await key.sign(taskMetaBytes(meta));
  return { signer, signature: Buffer.from(signature).toString('base64') };
}

/** Was this complete meta signed by `signature.signer`'s key? (Whether that signer is trusted is the caller's call.) */
export async function verifyTaskMeta(meta: TaskMeta, signature: MetaSignature): Promise<boolean> {
  if (!isCompleteMeta(meta)) return false;
  try {
    const publicKey = peerIdFromString(signature.signer).publicKey;
    if (publicKey === undefined) return false;
    return await publicKey.verify(taskMetaBytes(meta), Buffer.from(signature.signature, 'base64'));
  } catch {
    return false;
  }
}

/** Reads a MetaSignature field of a message. */
export function metaSignatureOf(value: unknown, path: string): MetaSignature {
  const f = new Fields(value, path);
  const signature = stringValue(f.get('signature'), f.at('signature'), MAX_SIGNATURE_LENGTH);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signature)) throw new WireError(`${f.at('signature')} is not base64`);
  return { signer: f.required('signer', peerIdValue), signature };
}
