import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  bool,
  ConfigError,
  defineOptions,
  duration,
  enumOf,
  fileSection,
  hostPort,
  hostWithOptionalPort,
  int,
  listOption,
  loadConfig,
  mapOption,
  option,
  optionalOption,
  string,
  struct,
  switchOption,
  type ConfigOf,
} from '../src/index.ts';

const schema = defineOptions({
  listen: option({ flag: 'listen', parser: hostPort(), default: { host: '127.0.0.1', port: 1 }, doc: 'address' }),
  workers: option({ flag: 'workers', parser: int({ min: 1, max: 64 }), default: 4, doc: 'workers' }),
  timeoutMs: option({ flag: 'timeout', parser: duration(), default: 1000, doc: 'timeout' }),
  home: option({ flag: 'home', parser: string(), default: (env) => `${env.HOME}/x`, defaultText: '$HOME/x', doc: 'home' }),
  level: option({ flag: 'level', parser: enumOf(['low', 'high']), default: 'low', doc: 'level' }),
  token: optionalOption({ flag: 'token', parser: string(), doc: 'token' }),
  verbose: switchOption({ flag: 'verbose', doc: 'verbose' }),
  peers: listOption({ flag: 'peer', parser: hostWithOptionalPort(), doc: 'peers' }),
  aliases: mapOption({ flag: 'alias', keyName: 'NAME', key: string(), value: hostWithOptionalPort(), doc: 'aliases' }),
  hosts: fileSection({
    flag: 'hosts',
    key: hostWithOptionalPort(),
    entry: struct({ insecure: bool(), 'ca-file': string() }),
    doc: 'per host',
  }),
});

const dir = mkdtempSync(join(tmpdir(), 'flotilla-config-'));
function yamlFile(text: string): string {
  const path = join(dir, `c${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(path, text);
  return path;
}

function load(argv: string[], env: Record<string, string> = {}) {
  return loadConfig(schema, { argv, env: { HOME: '/home/u', ...env } });
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('no error');
}

describe('loadConfig', () => {
  it('infers the config type from the schema', () => {
    const config = load([]);
    expectTypeOf(config).toEqualTypeOf<ConfigOf<typeof schema>>();
    expectTypeOf(config.listen).toEqualTypeOf<{ host: string; port: number }>();
    expectTypeOf(config.level).toEqualTypeOf<'low' | 'high'>();
    expectTypeOf(config.token).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.peers).toEqualTypeOf<string[]>();
    expectTypeOf(config.aliases).toEqualTypeOf<Record<string, string>>();
    expectTypeOf(config.hosts).toEqualTypeOf<Record<string, { insecure?: boolean; caFile?: string }>>();
  });

  it('uses defaults, including ones computed from the environment', () => {
    expect(load([])).toEqual({
      listen: { host: '127.0.0.1', port: 1 },
      workers: 4,
      timeoutMs: 1000,
      home: '/home/u/x',
      level: 'low',
      token: undefined,
      verbose: false,
      peers: [],
      aliases: {},
      hosts: {},
    });
  });

  it('applies defaults < file < env < flags, per option', () => {
    const file = yamlFile('workers: 8\ntimeout: 2s\nlevel: high\ntoken: from-file\n');
    const env = { FLOTILLA_CONFIG: file, FLOTILLA_TIMEOUT: '3s', FLOTILLA_TOKEN: 'from-env' };
    const config = load(['--token', 'from-flag'], env);
    expect(config.workers).toBe(8);
    expect(config.level).toBe('high');
    expect(config.timeoutMs).toBe(3000);
    expect(config.token).toBe('from-flag');
    expect(load(['--config', yamlFile('workers: 9\n')], env).workers).toBe(9);
  });

  it('accepts --flag=value, repeated flags, switches and comma-separated env lists', () => {
    const config = load(['--peer', 'a:1', '--peer=B:2', '--alias', 'x=h:5', '--alias=y=[::1]', '--verbose', '--workers=2', '--workers', '3']);
    expect(config.peers).toEqual(['a:1', 'b:2']);
    expect(config.aliases).toEqual({ x: 'h:5', y: '[::1]' });
    expect(config.verbose).toBe(true);
    expect(config.workers).toBe(3);
    expect(load(['--verbose', '--no-verbose']).verbose).toBe(false);
    expect(load(['--verbose=false']).verbose).toBe(false);
    expect(load([], { FLOTILLA_PEER: 'a:1, b ,', FLOTILLA_ALIAS: 'x=h,y=i:2', FLOTILLA_VERBOSE: '1' })).toMatchObject({
      peers: ['a:1', 'b'],
      aliases: { x: 'h', y: 'i:2' },
      verbose: true,
    });
    expect(load(['--peer', 'c'], { FLOTILLA_PEER: 'a,b' }).peers).toEqual(['c']);
  });

  it('treats an empty env var as unset', () => {
    expect(load([], { FLOTILLA_WORKERS: '' }).workers).toBe(4);
  });

  it('reads typed YAML values: numbers, booleans, sequences, mappings and file-only sections', () => {
    const file = yamlFile(
      [
        'workers: 16',
        'timeout: 250',
        'verbose: true',
        'peer: [a, "b:2"]',
        'alias: { x: "h:1" }',
        'hosts:',
        '  "Reg.example:5000": { insecure: true, ca-file: /ca.pem }',
        '  other.example:',
      ].join('\n'),
    );
    expect(load(['--config', file])).toMatchObject({
      workers: 16,
      timeoutMs: 250,
      verbose: true,
      peers: ['a', 'b:2'],
      aliases: { x: 'h:1' },
      hosts: { 'reg.example:5000': { insecure: true, caFile: '/ca.pem' }, 'other.example': {} },
    });
    expect(load(['--config', yamlFile('')]).workers).toBe(4);
  });

  it('names the flag, env var or file key and the value in every error', () => {
    expect(errorOf(() => load(['--listen', 'abc']))).toBe('invalid value for --listen: "abc" (expected HOST:PORT)');
    expect(errorOf(() => load([], { FLOTILLA_WORKERS: '0' }))).toBe(
      'invalid value for FLOTILLA_WORKERS: "0" (expected an integer from 1 to 64)',
    );
    expect(errorOf(() => load(['--peer', 'ok', '--peer', 'a b']))).toMatch(/^invalid value for --peer: "a b" \(expected HOST\[:PORT\]/);
    expect(errorOf(() => load(['--alias', 'novalue']))).toBe('invalid value for --alias: "novalue" (expected NAME=HOST[:PORT])');
    expect(errorOf(() => load(['--lisen', 'x']))).toBe('unknown flag --lisen (did you mean --listen?)');
    expect(errorOf(() => load(['--zzzzzz']))).toBe('unknown flag --zzzzzz');
    expect(errorOf(() => load(['-v']))).toBe('unknown flag -v');
    expect(errorOf(() => load(['extra']))).toBe('unexpected argument "extra"');
    expect(errorOf(() => load(['--listen']))).toBe('missing value for --listen (expected HOST:PORT)');
    expect(errorOf(() => load(['--listen', '--verbose']))).toBe('missing value for --listen (expected HOST:PORT)');
    expect(errorOf(() => load(['--no-workers']))).toMatch(/^unknown flag --no-workers/);
    expect(errorOf(() => load(['--hosts', 'x']))).toMatch(/^--hosts can only be set in a config file/);
  });

  it('validates a lower layer even when a higher one overrides it', () => {
    expect(errorOf(() => load(['--workers', '2'], { FLOTILLA_WORKERS: 'many' }))).toMatch(/^invalid value for FLOTILLA_WORKERS: "many"/);
    const file = yamlFile('workers: many\n');
    expect(errorOf(() => load(['--config', file, '--workers', '2']))).toBe(
      `config file ${file}: invalid value for "workers": "many" (expected an integer from 1 to 64)`,
    );
  });

  it('names the file and the key path in file errors', () => {
    const cases: [string, string][] = [
      ['lisen: x\n', 'unknown key "lisen" (did you mean "listen"?)'],
      ['workers: 100\n', 'invalid value for "workers": 100 (expected an integer from 1 to 64)'],
      ['listen: { host: a }\n', 'invalid value for "listen": {"host":"a"} (expected HOST:PORT)'],
      ['peer: a\n', 'invalid value for "peer": "a" (expected a list of HOST[:PORT])'],
      ['peer: [a, "x y"]\n', 'invalid value for "peer[1]": "x y" (expected HOST[:PORT] with HOST an IPv4 address, a hostname or [IPv6])'],
      ['hosts: { "r:1": { insecure: yes } }\n', 'invalid value for "hosts.r:1.insecure": "yes" (expected true or false)'],
      ['hosts: { "r:1": { ca-fil: x } }\n', 'unknown key "hosts.r:1.ca-fil" (did you mean "ca-file"?)'],
      ['hosts: { "bad host": {} }\n', 'invalid value for "hosts.bad host": "bad host" (expected HOST[:PORT] with HOST an IPv4 address, a hostname or [IPv6])'],
      ['- a\n', 'expected a mapping of option names to values'],
      ['workers: [\n', 'Flow sequence'],
      ['config: other.yml\n', 'unknown key "config"'],
    ];
    for (const [text, message] of cases) {
      const file = yamlFile(text);
      expect(errorOf(() => load(['--config', file]))).toContain(`config file ${file}: ${message}`);
    }
    expect(errorOf(() => load(['--config', join(dir, 'missing.yml')]))).toBe(`config file ${join(dir, 'missing.yml')}: cannot read it (ENOENT)`);
  });
});

describe('defineOptions', () => {
  it('rejects flags that are not kebab-case, duplicated or reserved', () => {
    const opt = (flag: string) => option({ flag, parser: string(), default: '', doc: '' });
    expect(() => defineOptions({ a: opt('Bad_Flag') })).toThrow(/kebab-case/);
    expect(() => defineOptions({ a: opt('x'), b: opt('x') })).toThrow(/twice/);
    expect(() => defineOptions({ a: opt('config') })).toThrow(/reserved/);
  });
});
