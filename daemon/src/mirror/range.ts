/** A satisfiable byte range, end exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

/** What a Range header asks of a blob of `size` bytes. */
export type RangeRequest = { kind: 'full' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

/**
 * Parses a single `bytes=` range (RFC 9110). Multiple ranges and other units are ignored (the whole body is served),
 * which the RFC allows and which is all registry clients need: containerd resumes with `bytes=N-`.
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (!header) return { kind: 'full' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return { kind: 'full' };
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return { kind: 'full' };
  let start: number;
  let end: number;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    start = Math.max(0, size - suffix);
    end = size;
  } else {
    start = Number(first);
    end = last === '' ? size : Math.min(size, Number(last) + 1);
    if (last !== '' && Number(last) < start) return { kind: 'full' };
  }
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end } };
}
