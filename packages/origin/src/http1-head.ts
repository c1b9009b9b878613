import { OriginError } from './errors.ts';

/** The status line and headers of an HTTP/1.1 response. */
export interface ResponseHead {
  status: number;
  /** Lower-case names; repeated fields joined with ", " (RFC 9110 §5.3). */
  headers: Record<string, string>;
}

/** Heads longer than this are refused; registries send well under 8 KiB. */
const MAX_HEAD_BYTES = 64 << 10;
const HEAD_END = Buffer.from('\r\n\r\n');
const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/;
const FIELD = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/** Collects the bytes of a response head as they arrive, across reads. */
export class HeadReader {
  #bytes = Buffer.alloc(0);

  /**
   * Adds `chunk`; returns undefined while the head is incomplete, else the head, how many bytes of `chunk` it used
   * (the body starts right after them) and whether the connection may serve another request afterwards (HTTP/1.1
   * without `Connection: close`). Throws OriginError('protocol') on a malformed or oversized head.
   */
  push(chunk: Uint8Array): { head: ResponseHead; used: number; persistent: boolean } | undefined {
    const before = this.#bytes.length;
    // Only the last 3 bytes already held can start the terminator, so search from there.
    const searchFrom = Math.max(0, before - 3);
    this.#bytes = Buffer.concat([this.#bytes, chunk]);
    const end = this.#bytes.indexOf(HEAD_END, searchFrom);
    if (end < 0) {
      if (this.#bytes.length > MAX_HEAD_BYTES) throw new OriginError('protocol', `response head longer than ${MAX_HEAD_BYTES} bytes`);
      return undefined;
    }
    const { head, minorVersion } = parseHead(this.#bytes.subarray(0, end).toString('latin1'));
    const used = end + HEAD_END.length - before;
    this.#bytes = Buffer.alloc(0);
    const closing = (head.headers.connection ?? '').split(',').some((token) => token.trim().toLowerCase() === 'close');
    return { head, used, persistent: minorVersion === 1 && !closing };
  }
}

function parseHead(text: string): { head: ResponseHead; minorVersion: number } {
  const lines = text.split('\r\n');
  const status = STATUS_LINE.exec(lines[0]!);
  if (!status) throw new OriginError('protocol', `malformed status line ${JSON.stringify(lines[0]!.slice(0, 100))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const field = FIELD.exec(line);
    if (!field) throw new OriginError('protocol', `malformed header line ${JSON.stringify(line.slice(0, 100))}`);
    const name = field[1]!.toLowerCase();
    headers[name] = headers[name] === undefined ? field[2]! : `${headers[name]}, ${field[2]!}`;
  }
  return { head: { status: Number(status[2]), headers }, minorVersion: Number(status[1]) };
}
