/**
 * A configuration mistake made by whoever started the program (bad flag, env var, file key or value).
 * The message names the flag/env/key and the value, so the CLI prints it as is, without a stack trace.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Thrown by parsers and options while reading one value; the loader turns it into a ConfigError that says where
 * the value came from. `path` locates it inside a structured YAML value (list index, map key, field).
 */
export class InvalidValue extends Error {
  override name = 'InvalidValue';
  readonly expected: string;
  /** The offending value as given (a string from argv/env, any YAML value from a file); set by the option layer. */
  readonly raw: unknown;
  readonly path: readonly string[];

  constructor(expected: string, raw?: unknown, path: readonly string[] = []) {
    super(`expected ${expected}`);
    this.expected = expected;
    this.raw = raw;
    this.path = path;
  }

  /** The same error, located one level further out. */
  at(segment: string): InvalidValue {
    return new InvalidValue(this.expected, this.raw, [segment, ...this.path]);
  }
}

/** A key in a YAML mapping that the schema does not know; `path` is relative to the option. */
export class UnknownKey extends Error {
  override name = 'UnknownKey';
  readonly path: readonly string[];
  readonly known: readonly string[];

  constructor(path: readonly string[], known: readonly string[]) {
    super(`unknown key "${path.join('.')}"`);
    this.path = path;
    this.known = known;
  }

  at(segment: string): UnknownKey {
    return new UnknownKey([segment, ...this.path], this.known);
  }
}
