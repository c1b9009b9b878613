import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WireError } from '../src/errors.ts';
import { MAX_PIECE_CONTROL_FRAME, parseHave, parsePieceRequest, parsePieceResponse } from '../src/piece-messages.ts';
import { MAX_PIECE_COUNT } from '../src/pieces.ts';
import { MAX_SCHED_FRAME, parseSchedRequest, parseSchedResponse } from '../src/sched-messages.ts';
import { encodeJson } from '../src/validate.ts';
import { DIGEST, have, mutate, PEER_IDS, pieceRequest, pieceResponse, schedRequest, schedResponse } from './arbitraries.ts';

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** Every parser, with an arbitrary of the messages it must accept. */
const parsers: { name: string; parse: (bytes: Uint8Array) => unknown; valid: fc.Arbitrary<object>; maxFrame: number }[] = [
  { name: 'parseSchedRequest', parse: (b) => parseSchedRequest(b), valid: schedRequest, maxFrame: MAX_SCHED_FRAME },
  { name: 'parseSchedResponse', parse: (b) => parseSchedResponse(b), valid: schedResponse, maxFrame: MAX_SCHED_FRAME },
  { name: 'parsePieceRequest', parse: parsePieceRequest, valid: pieceRequest, maxFrame: MAX_PIECE_CONTROL_FRAME },
  { name: 'parsePieceResponse', parse: (b) => parsePieceResponse(b), valid: pieceResponse, maxFrame: MAX_PIECE_CONTROL_FRAME },
  { name: 'parseHave', parse: (b) => parseHave(b, 300), valid: have(300), maxFrame: MAX_PIECE_CONTROL_FRAME },
];

/** Either a valid message (which then round-trips unchanged) or a WireError — never another exception. */
function parsesOrWireError(parse: (bytes: Uint8Array) => unknown, bytes: Uint8Array): void {
  let message: unknown;
  try {
    message = parse(bytes);
  } catch (err) {
    if (!(err instanceof WireError)) throw new Error(`threw ${String(err)} instead of a WireError`, { cause: err });
    return;
  }
  expect(parse(json(message))).toEqual(message);
}

describe('wire message validation', () => {
  it('round-trips every generated valid message', () => {
    for (const { name, parse, valid, maxFrame } of parsers) {
      fc.assert(
        fc.property(valid, (message) => {
          expect(parse(encodeJson(message, maxFrame)), name).toEqual(message);
        }),
        { numRuns: 60 },
      );
    }
  });

  it('throws only WireError on random bytes', () => {
    for (const { name, parse } of parsers) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 256 }), (bytes) => {
          expect(() => parse(bytes), name).toThrow(WireError);
        }),
      );
    }
  });

  it('throws only WireError on arbitrary JSON and on messages with one field replaced', () => {
    for (const { parse, valid } of parsers) {
      fc.assert(fc.property(fc.jsonValue(), (value) => parsesOrWireError(parse, json(value))), { numRuns: 200 });
      fc.assert(fc.property(valid.chain(mutate), (mutated) => parsesOrWireError(parse, json(mutated))), { numRuns: 300 });
    }
  });

  it('rejects out-of-range and malformed piece indexes', () => {
    const outOfRange = fc.oneof(
      fc.integer({ min: MAX_PIECE_COUNT, max: Number.MAX_SAFE_INTEGER }),
      fc.integer({ max: -1 }),
      fc.double({ noInteger: true }),
      fc.constantFrom(2 ** 53, 1e300),
    );
    fc.assert(
      fc.property(outOfRange, (index) => {
        expect(() => parsePieceRequest(json({ type: 'get', digest: DIGEST, index }))).toThrow(WireError);
        expect(() => parseHave(json({ type: 'have', pieces: [index], complete: false }), MAX_PIECE_COUNT)).toThrow(WireError);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.nat({ max: 1000 }), (pieceCount, extra) => {
        const index = pieceCount + extra;
        expect(() => parseHave(json({ type: 'have', pieces: [index], complete: false }), pieceCount)).toThrow(WireError);
        const report = { type: 'report', digest: DIGEST, finished: [index], failed: [] };
        expect(() => parseSchedRequest(json(report), { pieceCount: () => pieceCount })).toThrow(WireError);
      }),
    );
    expect(() => parseHave(json({ type: 'have', pieces: [3, 3], complete: false }), 10)).toThrow(/ascending/);
    expect(() => parseHave(json({ type: 'have', pieces: [4, 2], complete: false }), 10)).toThrow(/ascending/);
  });

  it('takes a seed\'s piece digests only one per piece, and a bounded back-off in busy', () => {
    expect(parseHave(json({ type: 'have', pieces: [1, 2], complete: false, digests: [DIGEST, DIGEST] }), 10)).toEqual({
      type: 'have',
      pieces: [1, 2],
      complete: false,
      digests: [DIGEST, DIGEST],
    });
    expect(() => parseHave(json({ type: 'have', pieces: [1, 2], complete: false, digests: [DIGEST] }), 10)).toThrow(/one digest per piece/);
    expect(() => parseHave(json({ type: 'have', pieces: [1], complete: false, digests: ['sha256:xyz'] }), 10)).toThrow(WireError);
    expect(parsePieceResponse(json({ type: 'busy', retryAfterMs: 250 }))).toEqual({ type: 'busy', retryAfterMs: 250 });
    expect(() => parsePieceResponse(json({ type: 'busy', retryAfterMs: 60_001 }))).toThrow(WireError);
    expect(() => parsePieceResponse(json({ type: 'busy', retryAfterMs: -1 }))).toThrow(WireError);
  });

  it('checks cross-field consistency and bounds', () => {
    const meta = { digest: DIGEST, size: 3 * 2 ** 20, pieceLength: 2 ** 20, pieceCount: 3, pieceDigests: [null, DIGEST, null] };
    const assigned = (m: object): Uint8Array => json({ type: 'task-assigned', meta: m, parents: [] });
    expect(parseSchedResponse(assigned(meta))).toMatchObject({ meta });
    expect(() => parseSchedResponse(assigned({ ...meta, pieceCount: 4 }))).toThrow(/pieceCount/);
    expect(() => parseSchedResponse(assigned({ ...meta, pieceDigests: [null, null] }))).toThrow(/3 entries/);
    expect(() => parseSchedResponse(assigned({ ...meta, pieceLength: 0, pieceCount: 0 }))).toThrow(WireError);
    expect(() => parseSchedResponse(assigned({ ...meta, pieceDigests: [null, 'sha256:xyz', null] }))).toThrow(/digest/);

    const ack = { type: 'report-ack', pieceDigests: { from: 2, digests: [DIGEST, DIGEST] } };
    expect(() => parseSchedResponse(json(ack), { pieceCount: 3 })).toThrow(WireError);
    expect(parseSchedResponse(json(ack), { pieceCount: 4 })).toEqual(ack);

    const task = { type: 'task', digest: DIGEST, registry: 'docker.io', repository: 'library/alpine' };
    expect(() => parseSchedRequest(json({ ...task, repository: 'Library/Alpine' }))).toThrow(/repository/);
    expect(() => parseSchedRequest(json({ ...task, registry: 'docker.io/evil' }))).toThrow(/registry/);
    expect(() => parseSchedRequest(json({ ...task, authorization: 'x'.repeat(16 * 1024 + 1) }))).toThrow(WireError);
    expect(() => parseSchedRequest(json({ type: 'reschedule', digest: DIGEST, exclude: ['not-a-peer'] }))).toThrow(/peer id/);
    const register = { type: 'register', addresses: ['/ip4/10.0.0.1/tcp/4001'], uploadSlots: 10 };
    expect(() => parseSchedRequest(json({ ...register, addresses: ['10.0.0.1:4001'] }))).toThrow(/multiaddr/);
    expect(() => parseSchedRequest(json({ ...register, addresses: Array(33).fill('/ip4/10.0.0.1/tcp/1') }))).toThrow(/33 items/);
    expect(() => parseSchedRequest(json({ ...register, zone: null }))).toThrow(/zone/);
    expect(() => parseSchedResponse(json({ type: 'error', code: 'Bad Code', message: '' }))).toThrow(/code/);
    expect(parseSchedRequest(json({ type: 'reschedule', digest: DIGEST, exclude: PEER_IDS }))).toEqual({
      type: 'reschedule',
      digest: DIGEST,
      exclude: PEER_IDS,
    });
  });

  it('refuses to encode a message larger than the frame limit, and survives deep nesting', () => {
    expect(() => encodeJson({ type: 'back-to-source', reason: 'x'.repeat(100) }, 64)).toThrow(WireError);
    const deep = new TextEncoder().encode('['.repeat(1_000_000) + ']'.repeat(1_000_000));
    for (const { parse } of parsers) expect(() => parse(deep)).toThrow(WireError);
  });
});
