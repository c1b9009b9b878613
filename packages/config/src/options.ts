import { InvalidValue, UnknownKey } from './errors.ts';
import { bool, type ParsedBy, type ValueParser } from './parsers.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/** How flags and env vars set an option; file-only sections have none. */
export interface CommandLineBinding<T> {
  /** A switch (`--x`, `--no-x`, `--x=false`) takes no separate argument. */
  readonly isSwitch: boolean;
  readonly repeatable: boolean;
  /** Every occurrence of the flag, in order (a switch gets "true"/"false" for `--x`/`--no-x`). */
  fromFlags(values: readonly string[]): T;
  fromEnv(raw: string): T;
}

/** One knob: its flag name (also its YAML key and, upper-snake-cased, its env var), doc, default and parsing. */
export interface Option<T> {
  /** kebab-case, without the leading `--`. */
  readonly flag: string;
  readonly doc: string;
  /** What the value looks like in help: `HOST:PORT`, `NAME=HOST[:PORT]`. */
  readonly metavar: string;
  /** The default as help shows it; undefined when there is none worth showing. */
  readonly defaultText: string | undefined;
  defaultValue(env: Env): T;
  /** Parses the value found under this option's key in a YAML file. */
  fromFile(value: unknown): T;
  readonly commandLine: CommandLineBinding<T> | undefined;
}

export type OptionSchema = Readonly<Record<string, Option<unknown>>>;

/** The typed configuration object a schema describes: `type DaemonConfig = ConfigOf<typeof daemonOptions>`. */
export type ConfigOf<S extends OptionSchema> = { -readonly [K in keyof S]: S[K] extends Option<infer T> ? T : never };

interface Common {
  flag: string;
  doc: string;
}

/** A single value; the default may depend on the environment (e.g. `$XDG_DATA_HOME`), then say so in `defaultText`. */
export function option<T>(
  spec: Common & { parser: ValueParser<T>; default: NoInfer<T> | ((env: Env) => NoInfer<T>); defaultText?: string },
): Option<T> {
  const byDefault = spec.default;
  const computed = typeof byDefault === 'function' ? (byDefault as (env: Env) => T) : undefined;
  return {
    flag: spec.flag,
    doc: spec.doc,
    metavar: spec.parser.metavar,
    defaultText: spec.defaultText ?? (computed ? undefined : spec.parser.format(byDefault as T)),
    defaultValue: (env) => (computed ? computed(env) : (byDefault as T)),
    ...singleValue(spec.parser, false),
  };
}

/** A single value with no default: the config field is `T | undefined`. */
export function optionalOption<T>(spec: Common & { parser: ValueParser<T> }): Option<T | undefined> {
  return {
    flag: spec.flag,
    doc: spec.doc,
    metavar: spec.parser.metavar,
    defaultText: undefined,
    defaultValue: () => undefined,
    ...singleValue(spec.parser, false),
  };
}

/** A boolean flag: `--x` sets true, `--no-x` or `--x=false` false. */
export function switchOption(spec: Common & { default?: boolean }): Option<boolean> {
  const byDefault = spec.default ?? false;
  return {
    flag: spec.flag,
    doc: spec.doc,
    metavar: '',
    defaultText: String(byDefault),
    defaultValue: () => byDefault,
    ...singleValue(bool(), true),
  };
}

/** Reading of a non-repeatable value: the last flag wins, env and YAML hold one value. */
function singleValue<T>(parser: ValueParser<T>, isSwitch: boolean): Pick<Option<T>, 'fromFile' | 'commandLine'> {
  return {
    fromFile: (value) => parseScalar(parser, value),
    commandLine: {
      isSwitch,
      repeatable: false,
      fromFlags: (values) => parseRaw(parser, values.at(-1)!),
      fromEnv: (raw) => parseRaw(parser, raw),
    },
  };
}

/** A list: the flag repeats, the env var is comma-separated, the YAML value is a sequence. */
export function listOption<T>(spec: Common & { parser: ValueParser<T>; default?: NoInfer<T>[] }): Option<T[]> {
  const { parser } = spec;
  const byDefault = spec.default ?? [];
  return {
    flag: spec.flag,
    doc: spec.doc,
    metavar: parser.metavar,
    defaultText: byDefault.length ? byDefault.map((v) => parser.format(v)).join(',') : undefined,
    defaultValue: () => [...byDefault],
    fromFile: (value) => sequenceOf(value, parser.metavar).map((item, i) => within(String(i), () => parseScalar(parser, item))),
    commandLine: {
      isSwitch: false,
      repeatable: true,
      fromFlags: (values) => values.map((raw) => parseRaw(parser, raw)),
      fromEnv: (raw) => splitList(raw).map((item) => parseRaw(parser, item)),
    },
  };
}

/** `NAME=VALUE` pairs: the flag repeats, the env var is comma-separated, the YAML value is a mapping. */
export function mapOption<V>(
  spec: Common & { keyName: string; key: ValueParser<string>; value: ValueParser<V> },
): Option<Record<string, V>> {
  const { keyName, key, value } = spec;
  const metavar = `${keyName}=${value.metavar}`;
  const parsePair = (raw: string): [string, V] => {
    const eq = raw.indexOf('=');
    if (eq < 0) throw new InvalidValue(metavar, raw);
    const name = reexpect(() => key.parse(raw.slice(0, eq)), raw, (inner) => `${metavar} where ${keyName} is ${inner}`);
    return [name, reexpect(() => value.parse(raw.slice(eq + 1)), raw, (inner) => `${keyName}=${inner}`)];
  };
  return {
    flag: spec.flag,
    doc: spec.doc,
    metavar,
    defaultText: undefined,
    defaultValue: () => ({}),
    fromFile: (raw) => parseMapping(raw, metavar, key, (v) => parseScalar(value, v)),
    commandLine: {
      isSwitch: false,
      repeatable: true,
      fromFlags: (values) => Object.fromEntries(values.map(parsePair)),
      fromEnv: (raw) => Object.fromEntries(splitList(raw).map(parsePair)),
    },
  };
}

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;

/** Fields of a YAML mapping keyed by their kebab-case YAML key; every field is optional. */
export type StructFields = Readonly<Record<string, ValueParser<unknown>>>;
export type StructOf<F extends StructFields> = { [K in keyof F & string as CamelCase<K>]?: ParsedBy<F[K]> };

/** A YAML mapping with known keys (kebab-case in the file, camelCase in the result). */
export interface StructParser<T> {
  readonly metavar: string;
  parse(value: unknown): T;
}

export function struct<const F extends StructFields>(fields: F): StructParser<StructOf<F>> {
  const known = Object.keys(fields);
  const metavar = `{${Object.entries(fields).map(([k, p]) => `${k}: ${p.metavar}`).join(', ')}}`;
  return {
    metavar,
    parse(raw) {
      const result: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(raw === null ? {} : mappingOf(raw, metavar))) {
        const parser = fields[k];
        if (!parser) throw new UnknownKey([k], known);
        result[k.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = within(k, () => parseScalar(parser, v));
      }
      return result as StructOf<F>;
    },
  };
}

/** A structured setting that only a YAML file can hold: a mapping from `key` to `entry` (e.g. `registries:`). */
export function fileSection<E>(
  spec: Common & { key: ValueParser<string>; entry: StructParser<E> },
): Option<Record<string, E>> {
  const { key, entry } = spec;
  const metavar = `{${key.metavar}: ${entry.metavar}}`;
  return {
    flag: spec.flag,
    doc: spec.doc,
    metavar,
    defaultText: undefined,
    defaultValue: () => ({}),
    fromFile: (raw) => parseMapping(raw, metavar, key, (v) => entry.parse(v)),
    commandLine: undefined,
  };
}

/** Checks a schema once, where it is defined, and keeps its exact type for ConfigOf. */
export function defineOptions<const S extends OptionSchema>(schema: S): S {
  const seen = new Set<string>(RESERVED_FLAGS);
  for (const option of Object.values(schema)) {
    if (!/^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/.test(option.flag)) throw new Error(`flag "${option.flag}" is not kebab-case`);
    if (seen.has(option.flag)) throw new Error(`flag "${option.flag}" is defined twice or reserved`);
    seen.add(option.flag);
  }
  return schema;
}

/** Flags every command understands on its own. */
export const RESERVED_FLAGS = ['config', 'help'] as const;

function parseRaw<T>(parser: ValueParser<T>, raw: string): T {
  return reexpect(() => parser.parse(raw), raw);
}

/** Attaches the raw value to a parser's InvalidValue, optionally rephrasing what was expected. */
function reexpect<T>(parse: () => T, raw: unknown, rephrase: (expected: string) => string = (e) => e): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InvalidValue) throw new InvalidValue(rephrase(err.expected), raw);
    throw err;
  }
}

/** YAML scalars (numbers, booleans) go through the same string parser as flags: `port: 5000` ≡ `--port 5000`. */
function parseScalar<T>(parser: ValueParser<T>, value: unknown): T {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
    return reexpect(() => parser.parse(String(value)), value);
  }
  throw new InvalidValue(parser.expected, value);
}

function sequenceOf(value: unknown, metavar: string): unknown[] {
  if (!Array.isArray(value)) throw new InvalidValue(`a list of ${metavar}`, value);
  return value;
}

function mappingOf(value: unknown, metavar: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidValue(`a mapping ${metavar}`, value);
  return value as Record<string, unknown>;
}

/** A YAML mapping (an empty value counts as empty) with parsed keys; errors are located under their key. */
function parseMapping<V>(raw: unknown, metavar: string, key: ValueParser<string>, parseValue: (v: unknown) => V): Record<string, V> {
  const entries = Object.entries(raw === null ? {} : mappingOf(raw, metavar));
  return Object.fromEntries(entries.map(([k, v]) => [within(k, () => parseRaw(key, k)), within(k, () => parseValue(v))]));
}

function splitList(raw: string): string[] {
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** Runs a nested parse and locates its error under `segment`. */
function within<T>(segment: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InvalidValue || err instanceof UnknownKey) throw err.at(segment);
    throw err;
  }
}
