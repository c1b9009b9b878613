import { describe, expect, it } from 'vitest';
import { bool, byteSize, duration, enumOf, hostPort, hostWithOptionalPort, int, InvalidValue, string } from '../src/index.ts';

function expectedOf(parse: () => unknown): string {
  try {
    parse();
  } catch (err) {
    if (err instanceof InvalidValue) return err.expected;
    throw err;
  }
  throw new Error('parse accepted the value');
}

describe('value parsers', () => {
  it('string rejects empty values and failed checks', () => {
    expect(string().parse('x')).toBe('x');
    expect(expectedOf(() => string().parse(''))).toBe('a non-empty string');
    const lower = string({ check: (s) => s === s.toLowerCase(), expected: 'lowercase' });
    expect(expectedOf(() => lower.parse('ABC'))).toBe('lowercase');
  });

  it('int honours bounds and rejects non-integers', () => {
    const port = int({ min: 0, max: 65535 });
    expect(port.parse('0')).toBe(0);
    expect(port.parse('65535')).toBe(65535);
    for (const bad of ['65536', '-1', '1.5', '1e3', '', ' 1', '0x10']) {
      expect(expectedOf(() => port.parse(bad))).toBe('an integer from 0 to 65535');
    }
    expect(int({ min: 1 }).expected).toBe('an integer >= 1');
    expect(int().parse('-42')).toBe(-42);
  });

  it('bool accepts true/false/1/0 only', () => {
    expect(['true', 'TRUE', '1'].map((s) => bool().parse(s))).toEqual([true, true, true]);
    expect(['false', 'False', '0'].map((s) => bool().parse(s))).toEqual([false, false, false]);
    expect(expectedOf(() => bool().parse('yes'))).toBe('true or false');
  });

  it('duration reads units and bare milliseconds', () => {
    const d = duration();
    expect(d.parse('500ms')).toBe(500);
    expect(d.parse('10s')).toBe(10_000);
    expect(d.parse('1.5m')).toBe(90_000);
    expect(d.parse('1h')).toBe(3_600_000);
    expect(d.parse('250')).toBe(250);
    expect(d.parse('0')).toBe(0);
    for (const bad of ['10 sec', '-1s', 's', '1d', '']) expect(() => d.parse(bad)).toThrow(InvalidValue);
    expect(() => duration({ min: 1 }).parse('0s')).toThrow(InvalidValue);
    expect([5_000, 3_600_000, 90_000, 1_500, 0].map(d.format)).toEqual(['5s', '1h', '90s', '1500ms', '0ms']);
  });

  it('byteSize distinguishes decimal and binary units', () => {
    const b = byteSize();
    expect(b.parse('4MB')).toBe(4_000_000);
    expect(b.parse('4MiB')).toBe(4 * 1024 * 1024);
    expect(b.parse('512KiB')).toBe(512 * 1024);
    expect(b.parse('1kb')).toBe(1000);
    expect(b.parse('1 GiB')).toBe(2 ** 30);
    expect(b.parse('123')).toBe(123);
    expect(b.parse('10B')).toBe(10);
    for (const bad of ['4XB', 'MiB', '-1', '4 M', '']) expect(() => b.parse(bad)).toThrow(InvalidValue);
    expect([2 ** 22, 1000, 1536, 0].map(b.format)).toEqual(['4MiB', '1000B', '1536B', '0B']);
  });

  it('hostPort parses IPv4, hostnames and bracketed IPv6', () => {
    const hp = hostPort();
    expect(hp.parse('127.0.0.1:65001')).toEqual({ host: '127.0.0.1', port: 65001 });
    expect(hp.parse('localhost:0')).toEqual({ host: 'localhost', port: 0 });
    expect(hp.parse('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(hp.format({ host: '::1', port: 80 })).toBe('[::1]:80');
    expect(expectedOf(() => hp.parse('abc'))).toBe('HOST:PORT');
    expect(expectedOf(() => hp.parse('a:65536'))).toBe('HOST:PORT with PORT from 0 to 65535');
    expect(expectedOf(() => hp.parse('::1'))).toBe('HOST:PORT with an IPv6 address inside [ ]');
    expect(expectedOf(() => hp.parse('[nope]:1'))).toBe('HOST:PORT with an IPv6 address inside [ ]');
    for (const bad of [':80', 'a b:1', '999.1.1.1:1', 'host:', 'host:1:2', '-bad:1']) expect(() => hp.parse(bad)).toThrow(InvalidValue);
  });

  it('hostWithOptionalPort normalises case and keeps brackets', () => {
    const h = hostWithOptionalPort();
    expect(h.parse('Docker.IO')).toBe('docker.io');
    expect(h.parse('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(h.parse('[FE80::1]:5000')).toBe('[fe80::1]:5000');
    expect(h.parse('[::1]')).toBe('[::1]');
    expect(() => h.parse('registry:port')).toThrow(InvalidValue);
  });

  it('enumOf accepts exactly the listed values', () => {
    const level = enumOf(['debug', 'info']);
    expect(level.parse('info')).toBe('info');
    expect(expectedOf(() => level.parse('INFO'))).toBe('one of debug, info');
    expect(level.metavar).toBe('debug|info');
  });
});
