import type { StreamCloseEvent } from '@libp2p/interface';

/** A frame announced more bytes than the protocol allows; nothing of the payload was buffered. */
export class FrameTooLargeError extends Error {
  readonly length: number;
  readonly maxLength: number;
  constructor(length: number, maxLength: number) {
    super(`frame of ${length} bytes exceeds the limit of ${maxLength} bytes`);
    this.name = 'FrameTooLargeError';
    this.length = length;
    this.maxLength = maxLength;
  }
}

/** The remote closed its end before sending the bytes a read needed (a truncated frame or body). */
export class UnexpectedEndOfStreamError extends Error {
  constructor(wanted: number, got: number) {
    super(`stream ended after ${got} of ${wanted} bytes`);
    this.name = 'UnexpectedEndOfStreamError';
  }
}

/** The stream was reset or aborted (by either side, or because its connection went away). */
export class StreamClosedError extends Error {
  constructor(message = 'stream closed', options?: ErrorOptions) {
    super(message, options);
    this.name = 'StreamClosedError';
  }
}

/** The error a pending read or write rejects with when its stream closes under it. */
export function closedError(evt: StreamCloseEvent): StreamClosedError {
  const cause = evt.error;
  return new StreamClosedError(cause ? `stream closed: ${cause.message}` : 'stream closed', { cause });
}
