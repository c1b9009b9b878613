/**
 * A peer sent something the protocol does not allow (malformed JSON, a wrong type, a value out of range, an
 * unexpected reply). The receiver resets the stream and counts it against the peer.
 */
export class WireError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WireError';
  }
}
