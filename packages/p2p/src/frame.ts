import type { Stream } from '@libp2p/interface';
import { writeAll } from './write.ts';

/** Frames are `uint32 big-endian length + payload`; StreamReader.readFrame reads them back. */
export const MAX_FRAME_LENGTH = 0xffff_ffff;

/** The 4-byte length prefix and the payload, ready for writeAll (the payload is not copied). */
export function encodeFrame(payload: Uint8Array): Uint8Array[] {
  if (payload.byteLength > MAX_FRAME_LENGTH) throw new RangeError(`frame payload of ${payload.byteLength} bytes is too long`);
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, payload.byteLength, false);
  return [header, payload];
}

/** Writes one frame with sender backpressure. */
export function writeFrame(stream: Stream, payload: Uint8Array): Promise<void> {
  return writeAll(stream, encodeFrame(payload));
}
