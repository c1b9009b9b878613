import { parseDigest } from '@flotilla/oci';
import { peerIdFromString } from '@libp2p/peer-id';
import { multiaddr } from '@multiformats/multiaddr';
import { WireError } from './errors.ts';

/** Field-by-field checks for messages decoded from JSON. Every failure is a WireError naming the field. */

const utf8 = new TextDecoder('utf-8', { fatal: true });
const encoder = new TextEncoder();

/** Strict UTF-8 + JSON.parse; anything else is a WireError. */
export function decodeJson(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (err) {
    throw new WireError('message is not valid UTF-8', { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WireError('message is not valid JSON', { cause: err });
  }
}

/** JSON bytes of a message, refusing to produce a frame the receiver would reject as too large. */
export function encodeJson(message: object, maxLength: number): Uint8Array {
  const bytes = encoder.encode(JSON.stringify(message));
  if (bytes.byteLength > maxLength) {
    throw new WireError(`message of ${bytes.byteLength} bytes exceeds the ${maxLength}-byte frame limit`);
  }
  return bytes;
}

export function uintValue(value: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new WireError(`${path} must be an integer in [0, ${max}]`);
  }
  return value;
}

export function stringValue(value: unknown, path: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length > maxLength) {
    throw new WireError(`${path} must be a string of at most ${maxLength} characters`);
  }
  return value;
}

export function digestValue(value: unknown, path: string): string {
  const text = stringValue(value, path, 7 + 128);
  try {
    return parseDigest(text).value;
  } catch (err) {
    throw new WireError(`${path} is not a valid digest`, { cause: err });
  }
}

export function peerIdValue(value: unknown, path: string): string {
  const text = stringValue(value, path, 128);
  try {
    return peerIdFromString(text).toString();
  } catch (err) {
    throw new WireError(`${path} is not a valid peer id`, { cause: err });
  }
}

export function multiaddrValue(value: unknown, path: string): string {
  const text = stringValue(value, path, 512);
  try {
    return multiaddr(text).toString();
  } catch (err) {
    throw new WireError(`${path} is not a valid multiaddr`, { cause: err });
  }
}

/** Piece indexes, strictly ascending (so no duplicates), each below `pieceCount`. */
export function pieceIndexesValue(value: unknown, path: string, pieceCount: number): number[] {
  const indexes = arrayValue(value, path, pieceCount, (item, itemPath) => uintValue(item, itemPath, pieceCount - 1));
  for (let i = 1; i < indexes.length; i++) {
    if (indexes[i]! <= indexes[i - 1]!) throw new WireError(`${path} must be strictly ascending`);
  }
  return indexes;
}

export function arrayValue<T>(
  value: unknown,
  path: string,
  maxItems: number,
  item: (value: unknown, path: string) => T,
): T[] {
  if (!Array.isArray(value)) throw new WireError(`${path} must be an array`);
  if (value.length > maxItems) throw new WireError(`${path} has ${value.length} items, more than ${maxItems}`);
  return value.map((v: unknown, i) => item(v, `${path}[${i}]`));
}

/** A JSON object's own fields, read with the checks above. Unknown fields are ignored (not copied). */
export class Fields {
  readonly #value: Record<string, unknown>;
  readonly path: string;

  constructor(value: unknown, path: string) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new WireError(`${path} must be an object`);
    }
    this.#value = value as Record<string, unknown>;
    this.path = path;
  }

  has(key: string): boolean {
    return Object.hasOwn(this.#value, key);
  }

  /** The raw value of a required field. */
  get(key: string): unknown {
    if (!this.has(key)) throw new WireError(`${this.at(key)} is missing`);
    return this.#value[key];
  }

  at(key: string): string {
    return `${this.path}.${key}`;
  }

  /** Runs `read` on the field when it is present; undefined when absent (null is not absent). */
  optional<T>(key: string, read: (value: unknown, path: string) => T): T | undefined {
    return this.has(key) ? read(this.#value[key], this.at(key)) : undefined;
  }

  required<T>(key: string, read: (value: unknown, path: string) => T): T {
    return read(this.get(key), this.at(key));
  }

  string(key: string, maxLength: number): string {
    return stringValue(this.get(key), this.at(key), maxLength);
  }

  uint(key: string, max?: number): number {
    return uintValue(this.get(key), this.at(key), max);
  }

  boolean(key: string): boolean {
    const value = this.get(key);
    if (typeof value !== 'boolean') throw new WireError(`${this.at(key)} must be a boolean`);
    return value;
  }

  digest(key: string): string {
    return digestValue(this.get(key), this.at(key));
  }

  object(key: string): Fields {
    return new Fields(this.get(key), this.at(key));
  }
}

/** The message's `type` discriminator, checked against the protocol's list. */
export function messageType<T extends string>(fields: Fields, types: readonly T[]): T {
  const type = fields.string('type', 64);
  if (!(types as readonly string[]).includes(type)) throw new WireError(`${fields.at('type')} "${type}" is not one of ${types.join(', ')}`);
  return type as T;
}
