import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, MediaType } from '@flotilla/oci';
import {
  pushRandomImage,
  registryRequests,
  startRegistry,
  startTokenServer,
  type PushedTestImage,
  type Registry,
  type TokenServer,
  waitFor,
} from '@flotilla/test';
import type { OriginClient, OriginRequest } from '../src/index.ts';
import { readAll, recordingLogger, testClient } from './helpers.ts';

const alice = { username: 'alice', password: 's3cret' };
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

let dir: string;
let tokens: TokenServer;
let tokenRegistry: Registry;
let basicRegistry: Registry;
let tokenImage: PushedTestImage;
let basicImage: PushedTestImage;
const clients: OriginClient[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'origin-auth-'));
  tokens = await startTokenServer({ users: { alice: alice.password }, dir });
  [tokenRegistry, basicRegistry] = await Promise.all([
    startRegistry({ auth: { kind: 'token', ...tokens, realm: tokens.url } }),
    startRegistry({ auth: { kind: 'htpasswd', users: { alice: alice.password } } }),
  ]);
  tokenImage = await pushRandomImage(tokenRegistry, 'app/tok', 'v1', { layerSizes: [10_000], auth: alice });
  basicImage = await pushRandomImage(basicRegistry, 'app/basic', 'v1', { layerSizes: [10_000], auth: alice });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([tokenRegistry?.stop(), basicRegistry?.stop(), tokens?.stop()]);
  await rm(dir, { recursive: true, force: true });
});

function client(...args: Parameters<typeof testClient>): OriginClient {
  const c = testClient(...args);
  clients.push(c);
  return c;
}

function blobGet(registry: Registry, repository: string, digest: string, extra: Partial<OriginRequest> = {}): OriginRequest {
  return { registry: registry.host, repository, kind: 'blobs', reference: digest, method: 'GET', ...extra };
}

describe('token (Bearer) registry', () => {
  it('anonymous: fetches a pull token itself, caches it, and shares one fetch among concurrent requests', async () => {
    const log = recordingLogger();
    const anonymous = client({}, { logger: log.logger });
    const layer = tokenImage.layers[0]!;
    const issuedBefore = tokens.issued;
    const concurrent = await Promise.all(
      Array.from({ length: 5 }, () => anonymous.request(blobGet(tokenRegistry, 'app/tok', layer.digest))),
    );
    for (const res of concurrent) {
      expect(res.status).toBe(200);
      expect(digestOf(await readAll(res.body))).toBe(layer.digest);
    }
    expect(tokens.issued - issuedBefore).toBe(1);

    const manifest = await anonymous.request({ registry: tokenRegistry.host, repository: 'app/tok', kind: 'manifests', reference: 'v1', method: 'GET', accept: [MediaType.ociManifest] });
    expect(manifest.status).toBe(200);
    expect(digestOf(await readAll(manifest.body))).toBe(tokenImage.manifestDigest);
    expect(tokens.issued - issuedBefore).toBe(1);
    // The cached token went along with the manifest GET up front: no 401 round trip for it.
    const manifestRequests = await waitFor(() => {
      const seen = registryRequests(tokenRegistry).filter((r) => r.method === 'GET' && r.path === '/v2/app/tok/manifests/v1');
      return seen.length > 0 ? seen : undefined;
    });
    expect(manifestRequests.map((r) => r.status)).toEqual([200]);

    const fetched = log.lines().filter((l) => l.msg === 'token fetched');
    expect(fetched).toHaveLength(1);
    expect(fetched[0]).toMatchObject({ level: 30, registry: tokenRegistry.host, scope: 'repository:app/tok:pull' });
    expect(typeof fetched[0]!.duration_ms).toBe('number');
  });

  it('configured credentials: the token request carries Basic auth (wrong ones end in the origin 401)', async () => {
    const good = client({ [tokenRegistry.host]: alice });
    const res = await good.request(blobGet(tokenRegistry, 'app/tok', tokenImage.config.digest));
    expect(res.status).toBe(200);
    expect(digestOf(await readAll(res.body))).toBe(tokenImage.config.digest);

    const log = recordingLogger();
    const bad = client({ [tokenRegistry.host]: { username: 'alice', password: 'wrong-password' } }, { logger: log.logger });
    const denied = await bad.request(blobGet(tokenRegistry, 'app/tok', tokenImage.config.digest));
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toMatch(/^Bearer realm="/);
    expect(JSON.parse((await readAll(denied.body)).toString()).errors[0].code).toBe('UNAUTHORIZED');
    expect(JSON.stringify(log.lines())).not.toContain('wrong-password');
  });

  it('forwards the client Authorization verbatim and relays the origin 401 with its challenge', async () => {
    const relay = client();
    const issuedBefore = tokens.issued;
    const denied = await relay.request(
      blobGet(tokenRegistry, 'app/tok', tokenImage.config.digest, { authorization: 'Bearer not-a-valid-token' }),
    );
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(denied.headers['www-authenticate']).toContain(`realm="${tokens.url}"`);
    await readAll(denied.body);
    expect(tokens.issued).toBe(issuedBefore); // no token flow of our own when the client brought credentials

    const token = await fetchToken(tokens.url, tokens.service, 'repository:app/tok:pull');
    const ok = await relay.request(blobGet(tokenRegistry, 'app/tok', tokenImage.config.digest, { authorization: `Bearer ${token}` }));
    expect(ok.status).toBe(200);
    expect(digestOf(await readAll(ok.body))).toBe(tokenImage.config.digest);
  });
});

describe('htpasswd (Basic) registry', () => {
  it('configured credentials answer the Basic challenge', async () => {
    const c = client({ [basicRegistry.host]: alice });
    for (const digest of [basicImage.config.digest, basicImage.layers[0]!.digest]) {
      const res = await c.request(blobGet(basicRegistry, 'app/basic', digest));
      expect(res.status).toBe(200);
      expect(digestOf(await readAll(res.body))).toBe(digest);
    }
  });

  it('without credentials the origin 401 comes back as is', async () => {
    const res = await client().request(blobGet(basicRegistry, 'app/basic', basicImage.config.digest));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Basic realm="flotilla-test"');
    await readAll(res.body);
  });

  it('client credentials are forwarded: right ones pass, wrong ones get the 401 relayed', async () => {
    const c = client();
    const ok = await c.request(blobGet(basicRegistry, 'app/basic', basicImage.config.digest, { authorization: basic('alice', alice.password) }));
    expect(ok.status).toBe(200);
    expect(digestOf(await readAll(ok.body))).toBe(basicImage.config.digest);
    const denied = await c.request(blobGet(basicRegistry, 'app/basic', basicImage.config.digest, { authorization: basic('alice', 'nope') }));
    expect(denied.status).toBe(401);
    expect(denied.headers['www-authenticate']).toBe('Basic realm="flotilla-test"');
    await readAll(denied.body);
  });
});

async function fetchToken(realm: string, service: string, scope: string): Promise<string> {
  const url = new URL(realm);
  url.searchParams.set('service', service);
  url.searchParams.set('scope', scope);
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return ((await res.json()) as { token: string }).token;
}
