import { createHash, type Hash } from 'node:crypto';

/** Digest algorithms the mirror accepts (OCI image spec: sha256 required, sha512 optional). */
export type DigestAlgorithm = 'sha256' | 'sha512';

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** A validated `algorithm:hex` content digest. */
export interface Digest {
  readonly algorithm: DigestAlgorithm;
  readonly hex: string;
  /** The canonical `algorithm:hex` form. */
  readonly value: string;
}

/** The reason a digest string was refused, for the DIGEST_INVALID message. */
export class DigestError extends Error {}

/** Parses `sha256:<64 hex>` or `sha512:<128 hex>` (lowercase hex only, as the spec requires). */
export function parseDigest(input: string): Digest {
  const colon = input.indexOf(':');
  if (colon <= 0) throw new DigestError(`digest "${truncate(input)}" has no algorithm prefix`);
  const algorithm = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (algorithm !== 'sha256' && algorithm !== 'sha512') {
    throw new DigestError(`digest algorithm "${truncate(algorithm)}" is not supported (sha256, sha512)`);
  }
  if (hex.length !== HEX_LENGTH[algorithm] || !/^[0-9a-f]+$/.test(hex)) {
    throw new DigestError(`digest "${truncate(input)}" is not ${HEX_LENGTH[algorithm]} lowercase hex characters`);
  }
  return { algorithm, hex, value: input };
}

/** True when the string looks like a digest reference (has a colon), as opposed to a tag. */
export function looksLikeDigest(reference: string): boolean {
  return reference.includes(':');
}

/** A running hash for the digest's algorithm. */
export function hasherFor(digest: Digest): Hash {
  return createHash(digest.algorithm);
}

/** Digest of a whole buffer, in `algorithm:hex` form. */
export function digestOf(bytes: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
