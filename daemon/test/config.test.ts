import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { loadDaemonConfig, type DaemonConfig } from '../src/config.ts';
import { configErrorOf } from './config-support.ts';

const dir = mkdtempSync(join(tmpdir(), 'flotilla-daemon-config-'));
let files = 0;
function configFile(yaml: string): string {
  const path = join(dir, `daemon-${files++}.yml`);
  writeFileSync(path, yaml);
  return path;
}

describe('daemon config', () => {
  it('has the documented defaults', () => {
    const config = loadDaemonConfig([], { HOME: '/home/me' });
    expect(config).toEqual({
      mirrorListen: { host: '127.0.0.1', port: 65001 },
      dataDir: '/home/me/.local/share/flotilla',
      insecureRegistries: [],
      defaultRegistry: 'docker.io',
      registryAliases: {},
      allowedRegistries: [],
      registries: {},
      dockerConfig: undefined,
      originConnectTimeoutMs: 5_000,
      originFirstByteTimeoutMs: 15_000,
      originIdleTimeoutMs: 15_000,
      originKeepAliveMs: 30_000,
      originIdleConnections: 8,
      originReadAheadBytes: 4 * 1024 * 1024,
      originPooledBuffers: 32,
      originWriteBatchBytes: 1024 * 1024,
      originWritesInFlight: 4,
      staleManifestWindowMs: 3_600_000,
      maxManifestBytes: 4 * 1024 * 1024,
      p2pListen: undefined,
      schedulers: [],
      bootstrap: [],
      dhtLookupTimeoutMs: 100,
      trustedSchedulers: [],
      reprovideIntervalMs: 600_000,
      zone: undefined,
      uploadSlots: 200,
      uploadQueueMs: 100,
      uploadRate: 0,
      downloadRate: 0,
      piecesInFlight: 8,
      pieceTimeoutMs: 2_000,
      schedulerTimeoutMs: 1_000,
      schedulerAnswerTimeoutMs: 10_000,
      swarmKeyFile: undefined,
      logLevel: 'info',
    } satisfies DaemonConfig);
    expect(loadDaemonConfig([], { HOME: '/home/me', XDG_DATA_HOME: '/xdg' }).dataDir).toBe('/xdg/flotilla');
    expect(loadDaemonConfig([], { HOME: '/home/me', XDG_DATA_HOME: 'relative' }).dataDir).toBe('/home/me/.local/share/flotilla');
  });

  it('types every field without casts', () => {
    const config = loadDaemonConfig([], {});
    expectTypeOf(config.mirrorListen).toEqualTypeOf<{ host: string; port: number }>();
    expectTypeOf(config.dockerConfig).toEqualTypeOf<string | undefined>();
    expectTypeOf(config.logLevel).toEqualTypeOf<'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'>();
    expectTypeOf(config.registries).toEqualTypeOf<
      Record<string, { insecure?: boolean; caFile?: string; username?: string; password?: string }>
    >();
  });

  it('takes the file, then env, then flags', () => {
    const file = configFile(
      [
        'mirror-listen: 127.0.0.1:7000',
        'log-level: debug',
        'origin-connect-timeout: 2s',
        'max-manifest-size: 1MB',
        'docker-config: /file/config.json',
      ].join('\n'),
    );
    const env = {
      FLOTILLA_CONFIG: file,
      FLOTILLA_LOG_LEVEL: 'warn',
      FLOTILLA_ORIGIN_CONNECT_TIMEOUT: '750ms',
    };
    const config = loadDaemonConfig(['--log-level', 'error', '--data-dir', '/d'], env);
    expect(config.mirrorListen).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(config.maxManifestBytes).toBe(1_000_000);
    expect(config.dockerConfig).toBe('/file/config.json');
    expect(config.originConnectTimeoutMs).toBe(750);
    expect(config.logLevel).toBe('error');
    expect(config.dataDir).toBe('/d');
    expect(loadDaemonConfig(['--config', configFile('log-level: trace\n')], env).logLevel).toBe('warn');
  });

  it('collects repeatable flags and comma-separated env lists', () => {
    const config = loadDaemonConfig(
      [
        '--insecure-registry', '127.0.0.1:5000',
        '--insecure-registry', 'registry.local',
        '--registry-alias', 'local=127.0.0.1:5000',
        '--registry-alias=hub=docker.io',
        '--allow-registry', 'ghcr.io',
      ],
      { FLOTILLA_ALLOW_REGISTRY: 'quay.io,docker.io' },
    );
    expect(config.insecureRegistries).toEqual(['127.0.0.1:5000', 'registry.local']);
    expect(config.registryAliases).toEqual({ local: '127.0.0.1:5000', hub: 'docker.io' });
    expect(config.allowedRegistries).toEqual(['ghcr.io']);
    expect(loadDaemonConfig([], { FLOTILLA_ALLOW_REGISTRY: 'quay.io, docker.io' }).allowedRegistries).toEqual([
      'quay.io',
      'docker.io',
    ]);
  });

  it('reads the registries section from the file only', () => {
    const file = configFile(
      [
        'registries:',
        '  "127.0.0.1:5000":',
        '    insecure: true',
        '  ghcr.io:',
        '    ca-file: /etc/ca.pem',
        '    username: bot',
        '    password: "s3cret"',
      ].join('\n'),
    );
    expect(loadDaemonConfig(['--config', file], {}).registries).toEqual({
      '127.0.0.1:5000': { insecure: true },
      'ghcr.io': { caFile: '/etc/ca.pem', username: 'bot', password: 's3cret' },
    });
    expect(configErrorOf(['--registries', 'x'])).toMatch(/^--registries can only be set in a config file/);
  });

  it('names the flag, env var or file key and the value in each kind of error', () => {
    expect(configErrorOf(['--mirror-listen', 'abc'])).toBe('invalid value for --mirror-listen: "abc" (expected HOST:PORT)');
    expect(configErrorOf(['--mirorr-listen', '1.2.3.4:5'])).toBe('unknown flag --mirorr-listen (did you mean --mirror-listen?)');
    expect(configErrorOf(['--data-dir'])).toBe('missing value for --data-dir (expected DIR)');
    expect(configErrorOf([], { FLOTILLA_MIRROR_LISTEN: '127.0.0.1:70000' })).toBe(
      'invalid value for FLOTILLA_MIRROR_LISTEN: "127.0.0.1:70000" (expected HOST:PORT with PORT from 0 to 65535)',
    );
    expect(configErrorOf(['--log-level', 'loud'])).toBe(
      'invalid value for --log-level: "loud" (expected one of trace, debug, info, warn, error, silent)',
    );
    expect(configErrorOf(['--origin-idle-timeout', '10 seconds'])).toMatch(
      /^invalid value for --origin-idle-timeout: "10 seconds" \(expected a duration/,
    );
    expect(configErrorOf(['--origin-connect-timeout', '0'])).toMatch(/^invalid value for --origin-connect-timeout: "0" .*at least 1ms\)$/);
    expect(configErrorOf(['--max-manifest-size', '4XB'])).toMatch(/^invalid value for --max-manifest-size: "4XB" \(expected a size/);
    expect(configErrorOf(['--registry-alias', 'Local=127.0.0.1:5000'])).toMatch(
      /^invalid value for --registry-alias: "Local=127.0.0.1:5000" \(expected NAME=HOST\[:PORT\] where NAME is a lowercase/,
    );
    expect(configErrorOf(['--insecure-registry', 'http://r'])).toMatch(/^invalid value for --insecure-registry: "http:\/\/r"/);
    const typo = configFile('mirorr-listen: 127.0.0.1:1\n');
    expect(configErrorOf(['--config', typo])).toBe(`config file ${typo}: unknown key "mirorr-listen" (did you mean "mirror-listen"?)`);
    const badType = configFile('registries:\n  r.example:\n    insecure: "maybe"\n');
    expect(configErrorOf(['--config', badType])).toBe(
      `config file ${badType}: invalid value for "registries.r.example.insecure": "maybe" (expected true or false)`,
    );
    const badKey = configFile('registries:\n  r.example:\n    user: bot\n');
    expect(configErrorOf([], { FLOTILLA_CONFIG: badKey })).toBe(`config file ${badKey}: unknown key "registries.r.example.user"`);
  });
});
