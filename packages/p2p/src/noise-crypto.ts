import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';

const CHACHA_POLY1305 = 'chacha20-poly1305';
const TAG_LENGTH = 16;
/** Below this the library's WebAssembly ChaCha20-Poly1305 is faster than Node's (its own measurement). */
const NATIVE_FROM_BYTES = 1200;

/**
 * A session's key is the same Uint8Array for every message: its KeyObject is made once, not per ≤ 64 KiB frame
 * (turning raw bytes into a KeyObject was a third of the cost of a bulk frame's cipher setup).
 */
const keys = new WeakMap<Uint8Array, KeyObject>();

function keyOf(k: Uint8Array): KeyObject {
  let key = keys.get(k);
  if (key === undefined) {
    key = createSecretKey(k);
    keys.set(k, key);
  }
  return key;
}

/**
 * Noise's ChaCha20-Poly1305 for bulk frames, as the library does it minus two costs per frame: the key setup (see
 * `keys`) and the copy that joins ciphertext and tag (they go out as a list; the transport writes both anyway).
 * Small messages and everything else (handshake DH, hashing, HKDF) stay the library's.
 */
export const bulkNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,
  chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
    if (plaintext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
    const cipher = createCipheriv(CHACHA_POLY1305, keyOf(k), nonce, { authTagLength: TAG_LENGTH });
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
    const output = new Uint8ArrayList();
    if (plaintext instanceof Uint8Array) output.append(cipher.update(plaintext));
    else for (const chunk of plaintext) output.append(cipher.update(chunk));
    const final = cipher.final();
    if (final.byteLength > 0) output.append(final);
    output.append(cipher.getAuthTag());
    return output;
  },
  chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < NATIVE_FROM_BYTES) return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
    const textLength = ciphertext.byteLength - TAG_LENGTH;
    const decipher = createDecipheriv(CHACHA_POLY1305, keyOf(k), nonce, { authTagLength: TAG_LENGTH });
    decipher.setAAD(ad, { plaintextLength: textLength });
    decipher.setAuthTag(ciphertext.subarray(textLength));
    const text = ciphertext instanceof Uint8Array ? ciphertext.subarray(0, textLength) : ciphertext.sublist(0, textLength);
    if (text instanceof Uint8Array) {
      const output = decipher.update(text);
      const final = decipher.final();
      return final.byteLength > 0 ? Buffer.concat([output, final]) : output;
    }
    const output = new Uint8ArrayList();
    for (const chunk of text) output.append(decipher.update(chunk));
    const final = decipher.final();
    if (final.byteLength > 0) output.append(final);
    return output;
  },
};
