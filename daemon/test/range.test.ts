import { describe, expect, it } from 'vitest';
import { parseRange } from '../src/mirror/range.ts';

describe('parseRange', () => {
  it('parses open, closed and suffix ranges', () => {
    expect(parseRange(undefined, 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=10-', 100)).toEqual({ kind: 'partial', range: { start: 10, end: 100 } });
    expect(parseRange('bytes=10-19', 100)).toEqual({ kind: 'partial', range: { start: 10, end: 20 } });
    expect(parseRange('bytes=90-500', 100)).toEqual({ kind: 'partial', range: { start: 90, end: 100 } });
    expect(parseRange('bytes=-5', 100)).toEqual({ kind: 'partial', range: { start: 95, end: 100 } });
    expect(parseRange('bytes=-500', 100)).toEqual({ kind: 'partial', range: { start: 0, end: 100 } });
  });
  it('reports unsatisfiable ranges and ignores what it does not support', () => {
    expect(parseRange('bytes=100-', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 100)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-1,5-6', 100)).toEqual({ kind: 'full' });
    expect(parseRange('items=0-1', 100)).toEqual({ kind: 'full' });
    expect(parseRange('bytes=20-10', 100)).toEqual({ kind: 'full' });
  });
});
