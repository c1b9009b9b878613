import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  buildImage,
  ctrContentGet,
  ctrFetch,
  pushImage,
  startContainerd,
  startFlotillaDaemon,
  startRegistry,
  startTokenServer,
  waitFor,
  writeHostsDir,
  type Containerd,
  type FlotillaDaemon,
  type PushedImage,
  type Registry,
  type SingleImage,
  type TokenServer,
} from '@flotilla/test';
import { ociErrorCode, rawRequest, sha256 } from './support/http.ts';
import { blobGets } from './support/logs.ts';
import { tempDir } from './support/temp.ts';

// Requirement 5: private origins. The mirror relays Basic challenges so clients authenticate themselves, does the
// anonymous Bearer flow for token registries, and uses credentials from its own config when it has them.

const USER = 'alice';
const PASSWORD = 's3cret';
const CREDS = `${USER}:${PASSWORD}`;

let dir: Awaited<ReturnType<typeof tempDir>>;
let basicRegistry: Registry;
let tokenServer: TokenServer;
let tokenRegistry: Registry;
/** Knows no credentials: clients bring their own. */
let daemon: FlotillaDaemon;
/** Has the Basic registry's credentials in its config file. */
let credentialedDaemon: FlotillaDaemon;
let containerd: Containerd;

beforeAll(async () => {
  dir = await tempDir('auth');
  tokenServer = await startTokenServer({ users: { [USER]: PASSWORD }, dir: join(dir.path, 'token') });
  [basicRegistry, tokenRegistry] = await Promise.all([
    startRegistry({ auth: { kind: 'htpasswd', users: { [USER]: PASSWORD } } }),
    startRegistry({
      auth: {
        kind: 'token',
        realm: tokenServer.url,
        service: tokenServer.service,
        issuer: tokenServer.issuer,
        rootCertBundlePath: tokenServer.rootCertBundlePath,
      },
    }),
  ]);
  const insecure = ['--insecure-registry', basicRegistry.host, '--insecure-registry', tokenRegistry.host];
  const config = join(dir.path, 'flotilla.yaml');
  await writeFile(
    config,
    [
      'registries:',
      `  "${basicRegistry.host}":`,
      '    insecure: true',
      `    username: ${USER}`,
      `    password: ${PASSWORD}`,
      '',
    ].join('\n'),
  );
  [daemon, credentialedDaemon, containerd] = await Promise.all([
    startFlotillaDaemon({ args: insecure }),
    startFlotillaDaemon({ args: ['--config', config] }),
    startContainerd(),
  ]);
});

afterAll(async () => {
  await Promise.all([containerd?.stop(), daemon?.stop(), credentialedDaemon?.stop()]);
  await Promise.all([basicRegistry?.stop(), tokenRegistry?.stop(), tokenServer?.stop()]);
  await dir?.cleanup();
});

/** A fresh image (so containerd has none of it yet) pushed with credentials. */
async function pushFresh(registry: Registry, name: string): Promise<{ image: SingleImage; pushed: PushedImage }> {
  const image = await buildImage({ layers: [120_000, 80_000], dir: join(dir.path, `img-${name}`) });
  const pushed = await pushImage(image, registry.host, `private/${name}:v1`, { creds: CREDS });
  return { image, pushed };
}

async function hostsFor(registry: Registry, mirror: FlotillaDaemon): Promise<string> {
  return writeHostsDir(join(dir.path, `hosts-${registry.host.replace(':', '-')}-${mirror.host.replace(':', '-')}`), {
    server: registry.host,
    mirror: mirror.host,
  });
}

/** containerd stored every blob intact, and each one was served by the mirror (status 200), not the origin. */
async function expectPulledThroughMirror(image: SingleImage, mirror: FlotillaDaemon): Promise<void> {
  for (const blob of image.blobs) {
    expect(sha256(await ctrContentGet(containerd, blob.digest))).toBe(blob.digest);
    const gets = await waitFor(() => {
      const lines = blobGets(mirror, blob.digest);
      return lines.length > 0 ? lines : undefined;
    });
    expect(gets.map((l) => l['status'])).toEqual([200]);
  }
}

describe('origin with htpasswd (Basic)', () => {
  test('ctr --user pulls through the mirror', async () => {
    const { image, pushed } = await pushFresh(basicRegistry, 'basic-user');
    const result = await ctrFetch(containerd, pushed.name, { hostsDir: await hostsFor(basicRegistry, daemon), user: CREDS });
    expect(result.code, result.stderr).toBe(0);
    await expectPulledThroughMirror(image, daemon);
  });

  test('without credentials the pull fails cleanly and the mirror relays the challenge', async () => {
    const { image, pushed } = await pushFresh(basicRegistry, 'basic-anonymous');
    const result = await ctrFetch(containerd, pushed.name, { hostsDir: await hostsFor(basicRegistry, daemon), timeoutMs: 20_000 });
    expect(result.code).not.toBe(0);
    expect(result.durationMs).toBeLessThan(15_000);
    expect(result.stderr).toMatch(/401|unauthorized/i);

    const manifest = await rawRequest(daemon.url, `/v2/private/basic-anonymous/manifests/v1?ns=${basicRegistry.host}`);
    expect(manifest.status).toBe(401);
    expect(manifest.headers['www-authenticate']).toMatch(/^Basic /i);
    expect(ociErrorCode(manifest.body)).toBe('UNAUTHORIZED');
    const layer = image.layers[0]!;
    const blob = await rawRequest(daemon.url, `/v2/private/basic-anonymous/blobs/${layer.digest}?ns=${basicRegistry.host}`);
    expect(blob.status).toBe(401);
    expect(blob.headers['www-authenticate']).toMatch(/^Basic /i);
  });

  test('a daemon configured with credentials pulls the private repo for a client that has none', async () => {
    const { image, pushed } = await pushFresh(basicRegistry, 'basic-configured');
    const path = `/v2/private/basic-configured`;
    const ns = `?ns=${basicRegistry.host}`;
    const manifest = await rawRequest(credentialedDaemon.url, `${path}/manifests/v1${ns}`);
    expect(manifest.status).toBe(200);
    expect(sha256(manifest.body)).toBe(pushed.manifestDigest);
    for (const blob of image.blobs) {
      const res = await rawRequest(credentialedDaemon.url, `${path}/blobs/${blob.digest}${ns}`);
      expect(res.status).toBe(200);
      expect(sha256(res.body)).toBe(blob.digest);
    }

    const second = await pushFresh(basicRegistry, 'basic-configured-ctr');
    const hostsDir = await hostsFor(basicRegistry, credentialedDaemon);
    const result = await ctrFetch(containerd, second.pushed.name, { hostsDir });
    expect(result.code, result.stderr).toBe(0);
    await expectPulledThroughMirror(second.image, credentialedDaemon);
  });
});

describe('origin with token auth (Bearer)', () => {
  test('anonymous pull: the daemon fetches the anonymous token itself', async () => {
    const { image, pushed } = await pushFresh(tokenRegistry, 'token-anonymous');
    const issuedBefore = tokenServer.issued;
    const result = await ctrFetch(containerd, pushed.name, { hostsDir: await hostsFor(tokenRegistry, daemon) });
    expect(result.code, result.stderr).toBe(0);
    await expectPulledThroughMirror(image, daemon);
    expect(tokenServer.issued).toBeGreaterThan(issuedBefore);

    // A plain client with no auth support at all gets the manifest too.
    const manifest = await rawRequest(daemon.url, `/v2/private/token-anonymous/manifests/v1?ns=${tokenRegistry.host}`);
    expect(manifest.status).toBe(200);
    expect(sha256(manifest.body)).toBe(pushed.manifestDigest);
  });

  test('ctr --user pulls through the mirror', async () => {
    const { image, pushed } = await pushFresh(tokenRegistry, 'token-user');
    const result = await ctrFetch(containerd, pushed.name, { hostsDir: await hostsFor(tokenRegistry, daemon), user: CREDS });
    expect(result.code, result.stderr).toBe(0);
    await expectPulledThroughMirror(image, daemon);
  });
});
