import { describe, expect, it } from 'vitest';
import { BodyDecoder, framingOf } from '../src/http1-body.ts';
import { HeadReader } from '../src/http1-head.ts';
import { OriginError } from '../src/index.ts';

/** Feeds `bytes` to a decoder in pieces cut at `cuts`, collecting the payload. */
function decode(framing: ReturnType<typeof framingOf>, bytes: Buffer, cuts: number[] = []): { payload: Buffer; complete: boolean; views: number } {
  const decoder = new BodyDecoder(framing);
  const parts: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    decoder.push(bytes.subarray(at, cut), (view) => parts.push(view));
    at = cut;
  }
  return { payload: Buffer.concat(parts), complete: decoder.complete, views: parts.length };
}

function expectProtocolError(run: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(OriginError);
  expect((error as OriginError).kind).toBe('protocol');
  expect((error as OriginError).message).toMatch(message);
}

describe('response head', () => {
  const text = 'HTTP/1.1 307 Temporary Redirect\r\nLocation: /x\r\nSet-Thing: a\r\nset-thing:  b \r\n\r\nBODY';

  it('parses status and headers (names lower-cased, repeats joined) and says where the body starts, whatever the cuts', () => {
    const bytes = Buffer.from(text);
    const bodyStart = text.indexOf('BODY');
    for (let cut = 1; cut < bodyStart; cut++) {
      const reader = new HeadReader();
      expect(reader.push(bytes.subarray(0, cut))).toBeUndefined();
      const rest = bytes.subarray(cut);
      const parsed = reader.push(rest);
      expect(parsed?.head).toEqual({ status: 307, headers: { location: '/x', 'set-thing': 'a, b' } });
      expect(rest.subarray(parsed!.used).toString()).toBe('BODY');
    }
    const whole = new HeadReader().push(bytes);
    expect(bytes.subarray(whole!.used).toString()).toBe('BODY');
  });

  it('refuses a malformed status line, a malformed header line and an endless head', () => {
    expectProtocolError(() => new HeadReader().push(Buffer.from('HTTP/2 200\r\n\r\n')), /status line/);
    expectProtocolError(() => new HeadReader().push(Buffer.from('HTTP/1.1 200 OK\r\nno colon\r\n\r\n')), /header line/);
    const reader = new HeadReader();
    expectProtocolError(() => {
      for (let i = 0; i < 100; i++) reader.push(Buffer.alloc(1024, 'a'));
    }, /longer than/);
  });
});

describe('body framing', () => {
  const head = (status: number, headers: Record<string, string> = {}) => ({ status, headers });

  it('picks the framing the way RFC 9112 says', () => {
    expect(framingOf('HEAD', head(200, { 'content-length': '10' }))).toEqual({ kind: 'none' });
    expect(framingOf('GET', head(204))).toEqual({ kind: 'none' });
    expect(framingOf('GET', head(304))).toEqual({ kind: 'none' });
    expect(framingOf('GET', head(200, { 'content-length': '0' }))).toEqual({ kind: 'none' });
    expect(framingOf('GET', head(200, { 'content-length': '10, 10' }))).toEqual({ kind: 'length', length: 10 });
    expect(framingOf('GET', head(200, { 'transfer-encoding': 'gzip, chunked', 'content-length': '3' }))).toEqual({ kind: 'chunked' });
    expect(framingOf('GET', head(200, { 'transfer-encoding': 'gzip' }))).toEqual({ kind: 'close' });
    expect(framingOf('GET', head(200))).toEqual({ kind: 'close' });
    expectProtocolError(() => framingOf('GET', head(200, { 'content-length': '10, 11' })), /Content-Length/);
    expectProtocolError(() => framingOf('GET', head(200, { 'content-length': '-1' })), /Content-Length/);
  });

  it('Content-Length: payload as views of the input (no copies); bytes past the end are not the body\'s', () => {
    const bytes = Buffer.from('0123456789EXTRA');
    const decoder = new BodyDecoder({ kind: 'length', length: 10 });
    const views: Buffer[] = [];
    expect(decoder.push(bytes, (view) => views.push(view))).toBe(10);
    expect(Buffer.concat(views).toString()).toBe('0123456789');
    expect(views[0]!.buffer).toBe(bytes.buffer);
    expect(decoder.complete).toBe(true);
  });

  it('a connection that ends early cuts a Content-Length body, and ends a close-delimited one', () => {
    const short = new BodyDecoder({ kind: 'length', length: 10 });
    short.push(Buffer.from('01234'), () => {});
    expectProtocolError(() => short.end(), /after 5 of 10 body bytes/);
    const close = new BodyDecoder({ kind: 'close' });
    close.push(Buffer.from('01234'), () => {});
    close.end();
    expect(close.complete).toBe(true);
  });

  it('chunked: decodes sizes, extensions and trailers whatever the cuts, and hands out views of the input', () => {
    const wire = Buffer.from('5;name=value\r\nhello\r\n1A\r\n' + 'x'.repeat(26) + '\r\n0\r\nTrailer: yes\r\n\r\nNEXT');
    const expected = 'hello' + 'x'.repeat(26);
    for (let a = 0; a <= wire.length; a += 3) {
      for (let b = a; b <= wire.length; b += 7) {
        const { payload, complete } = decode({ kind: 'chunked' }, wire, [a, b]);
        expect(payload.toString()).toBe(expected);
        expect(complete).toBe(true);
      }
    }
    const whole = decode({ kind: 'chunked' }, wire);
    expect(whole.views).toBe(2);
    expect(new BodyDecoder({ kind: 'chunked' }).push(wire, () => {})).toBe(wire.length - 'NEXT'.length);
  });

  it('chunked: refuses a bad size line and data longer than its size; an early end cuts the body', () => {
    expectProtocolError(() => decode({ kind: 'chunked' }, Buffer.from('zz\r\n')), /chunk size/);
    expectProtocolError(() => decode({ kind: 'chunked' }, Buffer.from('2\r\nabc\r\n')), /longer than its size/);
    const cut = new BodyDecoder({ kind: 'chunked' });
    cut.push(Buffer.from('5\r\nhel'), () => {});
    expectProtocolError(() => cut.end(), /after 3 body bytes/);
  });
});
