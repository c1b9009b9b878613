import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, InvalidValue, UnknownKey } from './errors.ts';
import type { ConfigOf, Env, Option, OptionSchema } from './options.ts';
import { didYouMean } from './suggest.ts';

/** Where a component's configuration comes from; precedence: defaults < YAML file < env < flags. */
export interface ConfigSources {
  /** Arguments after the command name: `--flag value`, `--flag=value`, `--switch`, `--no-switch`, `--config FILE`. */
  argv: readonly string[];
  env: Env;
}

/** `--config FILE` / `FLOTILLA_CONFIG` name the YAML file; its keys are the flag names. */
export const CONFIG_FLAG = 'config';

/** `mirror-listen` → `FLOTILLA_MIRROR_LISTEN`. */
export function envName(flag: string): string {
  return `FLOTILLA_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/**
 * Reads every layer, validates all of them (an override does not hide a typo underneath), then merges.
 * Throws ConfigError naming the flag, env var or file key and the bad value.
 */
export function loadConfig<S extends OptionSchema>(schema: S, sources: ConfigSources): ConfigOf<S> {
  const options = Object.values(schema);
  const byFlag = new Map(options.map((option) => [option.flag, option]));
  const { flagValues, configPath } = parseArgv(sources.argv, byFlag);
  const filePath = configPath ?? nonEmpty(sources.env[envName(CONFIG_FLAG)]);
  const fileValues = filePath === undefined ? new Map<Option<unknown>, unknown>() : readConfigFile(filePath, byFlag);

  const config: Record<string, unknown> = {};
  for (const [field, option] of Object.entries(schema)) {
    const layers: ({ value: unknown } | undefined)[] = [fileValues.has(option) ? { value: fileValues.get(option) } : undefined];
    const binding = option.commandLine;
    if (binding) {
      const flags = flagValues.get(option.flag);
      const envRaw = nonEmpty(sources.env[envName(option.flag)]);
      layers.unshift(
        flags === undefined ? undefined : { value: located(`--${option.flag}`, () => binding.fromFlags(flags)) },
        envRaw === undefined ? undefined : { value: located(envName(option.flag), () => binding.fromEnv(envRaw)) },
      );
    }
    config[field] = (layers.find((layer) => layer !== undefined) ?? { value: option.defaultValue(sources.env) }).value;
  }
  return config as ConfigOf<S>;
}

function parseArgv(argv: readonly string[], byFlag: ReadonlyMap<string, Option<unknown>>) {
  const flagValues = new Map<string, string[]>();
  let configPath: string | undefined;
  const known = [CONFIG_FLAG, ...[...byFlag.values()].filter((o) => o.commandLine).map((o) => o.flag)];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      throw new ConfigError(arg.startsWith('-') && arg !== '-' ? `unknown flag ${arg}` : `unexpected argument "${arg}"`);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const negated = name.startsWith('no-') && inline === undefined ? byFlag.get(name.slice(3)) : undefined;
    const option = negated?.commandLine?.isSwitch ? negated : byFlag.get(name);
    const takeValue = (metavar: string): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`missing value for --${name} (expected ${metavar})`);
      i++;
      return next;
    };
    if (name === CONFIG_FLAG) {
      configPath = takeValue('FILE');
    } else if (option === undefined) {
      throw new ConfigError(`unknown flag --${name}${didYouMean(name, known, (f) => `--${f}`)}`);
    } else if (!option.commandLine) {
      throw new ConfigError(`--${name} can only be set in a config file (--config FILE, key "${name}")`);
    } else {
      const value = option === negated ? 'false' : option.commandLine.isSwitch ? (inline ?? 'true') : takeValue(option.metavar);
      flagValues.set(option.flag, [...(flagValues.get(option.flag) ?? []), value]);
    }
  }
  return { flagValues, configPath };
}

function readConfigFile(path: string, byFlag: ReadonlyMap<string, Option<unknown>>): Map<Option<unknown>, unknown> {
  const fail = (message: string) => new ConfigError(`config file ${path}: ${message}`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw fail(`cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (err) {
    throw fail((err as Error).message.trimEnd());
  }
  if (document === null || document === undefined) return new Map();
  if (typeof document !== 'object' || Array.isArray(document)) throw fail('expected a mapping of option names to values');
  const values = new Map<Option<unknown>, unknown>();
  for (const [key, raw] of Object.entries(document)) {
    const option = byFlag.get(key);
    if (!option) throw fail(`unknown key "${key}"${didYouMean(key, byFlag.keys(), (k) => `"${k}"`)}`);
    try {
      values.set(option, option.fromFile(raw));
    } catch (err) {
      if (err instanceof InvalidValue) throw fail(invalidValueMessage(`"${renderPath([key, ...err.path])}"`, err));
      if (err instanceof UnknownKey) {
        const last = err.path.at(-1)!;
        throw fail(`unknown key "${renderPath([key, ...err.path])}"${didYouMean(last, err.known, (k) => `"${k}"`)}`);
      }
      throw err;
    }
  }
  return values;
}

/** Runs a flag or env parse and names the source in its error. */
function located<T>(source: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof InvalidValue) throw new ConfigError(invalidValueMessage(source, err));
    throw err;
  }
}

function invalidValueMessage(source: string, err: InvalidValue): string {
  const shown = JSON.stringify(err.raw) ?? 'nothing';
  return `invalid value for ${source}: ${shown.length > 120 ? `${shown.slice(0, 117)}...` : shown} (expected ${err.expected})`;
}

/** `registries`, `127.0.0.1:5000`, `insecure` → `registries.127.0.0.1:5000.insecure`; list indexes as `[i]`. */
function renderPath(path: readonly string[]): string {
  return path.map((segment, i) => (/^\d+$/.test(segment) ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join('');
}

/** An empty env var counts as unset (the usual `FOO= cmd` idiom). */
function nonEmpty(value: string | undefined): string | undefined {
  return value === '' ? undefined : value;
}
