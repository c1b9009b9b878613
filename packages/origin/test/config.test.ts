import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readDockerConfigCredentials, registryEndpoint } from '../src/index.ts';
import { parseChallenge } from '../src/challenge.ts';

describe('registryEndpoint', () => {
  it('maps docker.io to its API host and picks the scheme', () => {
    expect(registryEndpoint('docker.io', false)).toBe('https://registry-1.docker.io');
    expect(registryEndpoint('ghcr.io', false)).toBe('https://ghcr.io');
    expect(registryEndpoint('127.0.0.1:5000', true)).toBe('http://127.0.0.1:5000');
  });
});

describe('readDockerConfigCredentials', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'origin-dockercfg-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('reads base64 auth and username/password entries, normalizing keys', async () => {
    const path = join(dir, 'config.json');
    await writeFile(
      path,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:pa:ss').toString('base64') },
          'http://127.0.0.1:5000/': { username: 'alice', password: 's3cret' },
          'GHCR.io': { auth: Buffer.from('bob:tok').toString('base64') },
          'quay.io': { identitytoken: 'ignored' },
        },
        credsStore: 'desktop',
      }),
    );
    const creds = readDockerConfigCredentials(path);
    expect(Object.fromEntries(creds)).toEqual({
      'docker.io': { username: 'hubuser', password: 'pa:ss' },
      '127.0.0.1:5000': { username: 'alice', password: 's3cret' },
      'ghcr.io': { username: 'bob', password: 'tok' },
    });
  });

  it('a missing file means no credentials; a malformed one throws', async () => {
    expect(readDockerConfigCredentials(join(dir, 'absent.json')).size).toBe(0);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{not json');
    expect(() => readDockerConfigCredentials(bad)).toThrow(SyntaxError);
  });
});

describe('parseChallenge', () => {
  it('parses Bearer params, quoted commas and escapes included', () => {
    expect(
      parseChallenge('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push",error="x\\"y"'),
    ).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:a/b:pull,push', error: 'x"y' },
    });
  });

  it('parses Basic and stops at a second challenge', () => {
    expect(parseChallenge('Basic realm="r", Bearer realm="other"')).toEqual({ scheme: 'basic', params: { realm: 'r' } });
    expect(parseChallenge(undefined)).toBeUndefined();
    expect(parseChallenge('')).toBeUndefined();
  });
});
