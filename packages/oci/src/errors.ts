/** Error codes from the OCI distribution spec, plus the ones docker clients know. */
export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  | 'UNAVAILABLE'
  | 'UNKNOWN';

/** An error that maps to one HTTP status and one spec error code. */
export class OciError extends Error {
  readonly status: number;
  readonly code: OciErrorCode;
  readonly headers: Record<string, string>;

  constructor(status: number, code: OciErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /** The spec's error body: `{"errors":[{"code","message"}]}`. */
  body(): string {
    return JSON.stringify({ errors: [{ code: this.code, message: this.message }] });
  }
}
