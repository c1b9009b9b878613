import { randomBytes } from 'node:crypto';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';
import { describe, expect, it } from 'vitest';
import { bulkNoiseCrypto } from '../src/noise-crypto.ts';

const bytes = (data: Uint8Array | Uint8ArrayList): Buffer => Buffer.from(data instanceof Uint8Array ? data : data.subarray());

describe('bulkNoiseCrypto', () => {
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const ad = randomBytes(32);

  it('is byte-for-byte the library\'s ChaCha20-Poly1305, both ways, for small, bulk and listed plaintexts', () => {
    for (const size of [0, 1199, 1200, 65_519]) {
      const plain = randomBytes(size);
      const listed = new Uint8ArrayList(plain.subarray(0, size >> 1), plain.subarray(size >> 1));
      for (const input of [plain, listed]) {
        const ours = bytes(bulkNoiseCrypto.chaCha20Poly1305Encrypt(input, nonce, ad, key));
        const theirs = bytes(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key));
        expect(ours.equals(theirs), `encrypt ${size}`).toBe(true);
        const back = bulkNoiseCrypto.chaCha20Poly1305Decrypt(new Uint8ArrayList(theirs), nonce, ad, key, Buffer.alloc(size));
        expect(bytes(back).equals(plain), `decrypt ${size}`).toBe(true);
        expect(bytes(bulkNoiseCrypto.chaCha20Poly1305Decrypt(theirs, nonce, ad, key, Buffer.alloc(size))).equals(plain)).toBe(true);
      }
    }
  });

  it('rejects a tampered frame and a wrong key (the cached key is per key, not per session)', () => {
    const plain = randomBytes(4096);
    const sealed = bytes(bulkNoiseCrypto.chaCha20Poly1305Encrypt(plain, nonce, ad, key));
    const tampered = Buffer.from(sealed);
    tampered[100] = tampered[100]! ^ 1;
    expect(() => bulkNoiseCrypto.chaCha20Poly1305Decrypt(tampered, nonce, ad, key, Buffer.alloc(4096))).toThrow();
    expect(() => bulkNoiseCrypto.chaCha20Poly1305Decrypt(sealed, nonce, ad, randomBytes(32), Buffer.alloc(4096))).toThrow();
  });
});
