/** Why an upstream request failed: no answer in time, no connection at all, or an answer we cannot use. */
export type OriginErrorKind = 'timeout' | 'unreachable' | 'protocol';

/** Thrown by OriginClient.request() (and emitted by response bodies) when the origin could not serve a request. */
export class OriginError extends Error {
  readonly kind: OriginErrorKind;

  constructor(kind: OriginErrorKind, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'OriginError';
    this.kind = kind;
  }
}

/** The origin stopped answering: no connection, no headers or no body bytes within the configured deadline. */
export class OriginTimeoutError extends OriginError {
  constructor(message: string, options?: ErrorOptions) {
    super('timeout', message, options);
    this.name = 'OriginTimeoutError';
  }
}

const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const PROTOCOL_CODES = new Set(['UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_INVALID_ARG']);

/**
 * Translates an undici/socket error into an OriginError. An abort requested by the caller is returned unchanged:
 * it is the caller's own decision, not a fault of the origin.
 */
export function toOriginError(err: unknown, what: string, signal?: AbortSignal): unknown {
  if (err instanceof OriginError || signal?.aborted) return err;
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (TIMEOUT_CODES.has(code)) return new OriginTimeoutError(message, { cause: err });
  if (code.startsWith('HPE_') || PROTOCOL_CODES.has(code)) return new OriginError('protocol', message, { cause: err });
  // Refused, reset, DNS and TLS verification failures all mean "this origin cannot be reached as configured".
  return new OriginError('unreachable', message, { cause: err });
}
