import { isIP } from 'node:net';
import { InvalidValue } from './errors.ts';

/** Turns one raw string (a flag value, an env var, a YAML scalar) into a typed value. */
export interface ValueParser<T> {
  /** Placeholder shown in help: `HOST:PORT`, `DURATION`. */
  readonly metavar: string;
  /** What a valid value looks like, for error messages ("an integer from 1 to 10"). */
  readonly expected: string;
  /** Throws InvalidValue when the string is not acceptable. */
  parse(raw: string): T;
  /** Renders a value the way a user would write it (defaults in help). */
  format(value: T): string;
}

export type ParsedBy<P> = P extends ValueParser<infer T> ? T : never;

export interface StringOptions {
  metavar?: string;
  /** Extra acceptance test, e.g. a name grammar; `expected` then says what passes. */
  check?: (value: string) => boolean;
  expected?: string;
}

export function string(options: StringOptions = {}): ValueParser<string> {
  const expected = options.expected ?? 'a non-empty string';
  return {
    metavar: options.metavar ?? 'STRING',
    expected,
    parse(raw) {
      if (raw === '' || (options.check && !options.check(raw))) throw new InvalidValue(expected);
      return raw;
    },
    format: (value) => value,
  };
}

export function int(options: { min?: number; max?: number; metavar?: string } = {}): ValueParser<number> {
  const { min, max } = options;
  const expected =
    min !== undefined && max !== undefined
      ? `an integer from ${min} to ${max}`
      : min !== undefined
        ? `an integer >= ${min}`
        : max !== undefined
          ? `an integer <= ${max}`
          : 'an integer';
  return {
    metavar: options.metavar ?? 'N',
    expected,
    parse(raw) {
      const n = Number(raw);
      if (!/^-?\d+$/.test(raw) || !Number.isSafeInteger(n)) throw new InvalidValue(expected);
      if ((min !== undefined && n < min) || (max !== undefined && n > max)) throw new InvalidValue(expected);
      return n;
    },
    format: String,
  };
}

export function bool(): ValueParser<boolean> {
  const expected = 'true or false';
  return {
    metavar: 'BOOL',
    expected,
    parse(raw) {
      const lower = raw.toLowerCase();
      if (lower === 'true' || lower === '1') return true;
      if (lower === 'false' || lower === '0') return false;
      throw new InvalidValue(expected);
    },
    format: String,
  };
}

export function enumOf<const V extends readonly string[]>(values: V): ValueParser<V[number]> {
  const expected = `one of ${values.join(', ')}`;
  return {
    metavar: values.join('|'),
    expected,
    parse(raw) {
      const found = values.find((v) => v === raw);
      if (found === undefined) throw new InvalidValue(expected);
      return found;
    },
    format: (value) => value,
  };
}

const DURATION_UNITS_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** A duration in milliseconds: `500ms`, `10s`, `1.5m`, `1h`, or a bare number of milliseconds. */
export function duration(options: { min?: number } = {}): ValueParser<number> {
  const min = options.min ?? 0;
  const format = (ms: number) => formatInLargestUnit(ms, [['h', 3_600_000], ['m', 60_000], ['s', 1000]], 'ms');
  const expected = `a duration such as 500ms, 10s, 5m, 1h, or a number of milliseconds${min > 0 ? `, at least ${format(min)}` : ''}`;
  return {
    metavar: 'DURATION',
    expected,
    parse(raw) {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
      if (!m) throw new InvalidValue(expected);
      const ms = Math.round(Number(m[1]) * DURATION_UNITS_MS[(m[2] ?? 'ms') as keyof typeof DURATION_UNITS_MS]);
      if (!Number.isSafeInteger(ms) || ms < min) throw new InvalidValue(expected);
      return ms;
    },
    format,
  };
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

/** A size in bytes: `512MiB` (powers of 1024), `4MB` (powers of 1000), or bare bytes. Units are case-insensitive. */
export function byteSize(options: { min?: number } = {}): ValueParser<number> {
  const min = options.min ?? 0;
  const format = (bytes: number) =>
    formatInLargestUnit(bytes, [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]], 'B');
  const expected = `a size such as 4MiB, 512KiB, 4MB, or a number of bytes${min > 0 ? `, at least ${format(min)}` : ''}`;
  return {
    metavar: 'SIZE',
    expected,
    parse(raw) {
      const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?$/i.exec(raw.trim());
      if (!m) throw new InvalidValue(expected);
      const bytes = Math.round(Number(m[1]) * BYTE_UNITS[(m[2] ?? 'b').toLowerCase()]!);
      if (!Number.isSafeInteger(bytes) || bytes < min) throw new InvalidValue(expected);
      return bytes;
    },
    format,
  };
}

function formatInLargestUnit(value: number, units: [string, number][], base: string): string {
  const unit = units.find(([, size]) => value !== 0 && value % size === 0);
  return unit ? `${value / unit[1]}${unit[0]}` : `${value}${base}`;
}

export interface HostPort {
  /** IPv4 address, hostname, or IPv6 address without brackets. */
  host: string;
  port: number;
}

/** `HOST:PORT` with an IPv4 address, a hostname or a bracketed IPv6 address; port 0..65535. */
export function hostPort(): ValueParser<HostPort> {
  return {
    metavar: 'HOST:PORT',
    expected: 'HOST:PORT',
    parse(raw) {
      const split = splitHostPort(raw, 'HOST:PORT');
      if (split.port === undefined) throw new InvalidValue('HOST:PORT');
      return { host: split.host, port: split.port };
    },
    format: ({ host, port }) => `${bracketed(host)}:${port}`,
  };
}

/** `HOST` or `HOST:PORT` as a registry is named (`docker.io`, `127.0.0.1:5000`, `[::1]:5000`), lower-cased. */
export function hostWithOptionalPort(): ValueParser<string> {
  return {
    metavar: 'HOST[:PORT]',
    expected: 'HOST[:PORT]',
    parse(raw) {
      const split = splitHostPort(raw, 'HOST[:PORT]');
      const host = bracketed(split.host.toLowerCase());
      return split.port === undefined ? host : `${host}:${split.port}`;
    },
    format: (value) => value,
  };
}

const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Splits `host[:port]`, throwing InvalidValue that says which part is wrong. */
function splitHostPort(raw: string, form: string): { host: string; port: number | undefined } {
  let host: string;
  let portText: string | undefined;
  if (raw.startsWith('[')) {
    const close = raw.indexOf(']');
    host = raw.slice(1, close);
    const rest = raw.slice(close + 1);
    if (close < 0 || isIP(host) !== 6) throw new InvalidValue(`${form} with an IPv6 address inside [ ]`);
    if (rest !== '' && !rest.startsWith(':')) throw new InvalidValue(form);
    portText = rest === '' ? undefined : rest.slice(1);
  } else {
    if (isIP(raw) === 6) throw new InvalidValue(`${form} with an IPv6 address inside [ ]`);
    const colon = raw.indexOf(':');
    host = colon < 0 ? raw : raw.slice(0, colon);
    portText = colon < 0 ? undefined : raw.slice(colon + 1);
    // `999.1.1.1` matches the hostname grammar but is a mistyped address.
    const valid = isIP(host) === 4 || (HOSTNAME.test(host) && !/^[\d.]+$/.test(host));
    if (!valid) throw new InvalidValue(`${form} with HOST an IPv4 address, a hostname or [IPv6]`);
  }
  if (portText === undefined) return { host, port: undefined };
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535) throw new InvalidValue(`${form} with PORT from 0 to 65535`);
  return { host, port };
}

function bracketed(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}
