import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { choosePieceLength, MAX_PIECE_LENGTH, MIN_PIECE_LENGTH, MiB, pieceCountFor, pieceRange } from '../src/pieces.ts';

describe('piece geometry', () => {
  it('chooses the next power of two ≥ size/512, clamped to 1–16 MiB', () => {
    expect(choosePieceLength(0)).toBe(MiB);
    expect(choosePieceLength(512 * MiB)).toBe(MiB);
    expect(choosePieceLength(512 * MiB + 1)).toBe(2 * MiB);
    expect(choosePieceLength(3 * 1024 * MiB)).toBe(8 * MiB);
    expect(choosePieceLength(8 * 1024 * MiB)).toBe(16 * MiB);
    expect(choosePieceLength(100 * 1024 * MiB)).toBe(16 * MiB);
    fc.assert(
      fc.property(fc.nat({ max: 2 ** 40 }), (size) => {
        const length = choosePieceLength(size);
        expect(Number.isInteger(Math.log2(length))).toBe(true);
        expect(length).toBeGreaterThanOrEqual(MIN_PIECE_LENGTH);
        expect(length).toBeLessThanOrEqual(MAX_PIECE_LENGTH);
        if (length > MIN_PIECE_LENGTH) expect((length / 2) * 512).toBeLessThan(size); // the smallest that works
        if (length < MAX_PIECE_LENGTH) expect(pieceCountFor(size, length)).toBeLessThanOrEqual(512);
      }),
    );
  });

  it('cuts a blob into contiguous ranges that cover it exactly', () => {
    expect(pieceCountFor(0, MiB)).toBe(0);
    expect(pieceCountFor(1, MiB)).toBe(1);
    expect(pieceCountFor(MiB, MiB)).toBe(1);
    expect(pieceCountFor(MiB + 1, MiB)).toBe(2);
    expect(pieceRange(1, MiB + 1, MiB)).toEqual({ start: MiB, end: MiB + 1 });
    fc.assert(
      fc.property(fc.nat({ max: 10_000 }), fc.integer({ min: 1, max: 700 }), (size, pieceLength) => {
        const count = pieceCountFor(size, pieceLength);
        let next = 0;
        for (let i = 0; i < count; i++) {
          const { start, end } = pieceRange(i, size, pieceLength);
          expect(start).toBe(next);
          expect(end - start).toBeGreaterThan(0);
          expect(end - start).toBeLessThanOrEqual(pieceLength);
          next = end;
        }
        expect(next).toBe(size);
        expect(() => pieceRange(count, size, pieceLength)).toThrow(RangeError);
        expect(() => pieceRange(-1, size, pieceLength)).toThrow(RangeError);
      }),
    );
    expect(() => pieceCountFor(-1, MiB)).toThrow(RangeError);
    expect(() => pieceCountFor(10, 0)).toThrow(RangeError);
  });
});
