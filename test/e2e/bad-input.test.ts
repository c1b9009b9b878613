import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  buildImage,
  pushImage,
  startFlotillaDaemon,
  startRegistry,
  type FlotillaDaemon,
  type Registry,
} from '@flotilla/test';
import { ociErrorCode, rawRequest, type RawResponse } from './support/http.ts';
import { tempDir } from './support/temp.ts';

// Requirement 7: hostile or malformed requests get a precise OCI error, are never proxied anywhere they should not
// go, and never take the daemon down.

let dir: Awaited<ReturnType<typeof tempDir>>;
let registry: Registry;
let stoppedRegistry: Registry;
let daemon: FlotillaDaemon;

beforeAll(async () => {
  dir = await tempDir('bad-input');
  [registry, stoppedRegistry] = await Promise.all([startRegistry(), startRegistry()]);
  await stoppedRegistry.stop(); // its address is allowed but nothing listens there any more
  const image = await buildImage({ layers: [50_000], dir: join(dir.path, 'img') });
  await pushImage(image, registry.host, 'app/x:v1');
  daemon = await startFlotillaDaemon({
    args: [
      '--default-registry', registry.host,
      '--insecure-registry', registry.host,
      '--insecure-registry', stoppedRegistry.host,
      '--allow-registry', registry.host,
      '--allow-registry', stoppedRegistry.host,
    ],
  });
});

afterAll(async () => {
  await Promise.all([daemon?.stop(), registry?.stop()]);
  await dir?.cleanup();
});

function send(method: string, path: string): Promise<RawResponse> {
  return rawRequest(daemon.url, path, { method });
}

async function expectError(method: string, path: string, status: number, code: string): Promise<void> {
  const res = await send(method, path);
  expect({ path, status: res.status, code: ociErrorCode(res.body) }).toEqual({ path, status, code });
  expect(res.headers['content-type']).toMatch(/json/);
}

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('malformed references', () => {
  test.each([
    ['uppercase name', '/v2/App/X/manifests/v1', 400, 'NAME_INVALID'],
    ['name with a space', '/v2/app/x%20y/manifests/v1', 400, 'NAME_INVALID'],
    ['truncated digest', '/v2/app/x/blobs/sha256:abc', 400, 'DIGEST_INVALID'],
    ['uppercase hex digest', `/v2/app/x/blobs/sha256:${'A'.repeat(64)}`, 400, 'DIGEST_INVALID'],
    ['manifest digest with bad hex', `/v2/app/x/manifests/sha256:${'z'.repeat(64)}`, 400, 'DIGEST_INVALID'],
    ['unsupported algorithm', `/v2/app/x/blobs/md5:${'0'.repeat(32)}`, 400, 'DIGEST_INVALID'],
  ])('%s → %i %s', async (_name, path, status, code) => {
    await expectError('GET', path, status, code);
  });

  test('unknown manifest → 404 MANIFEST_UNKNOWN', async () => {
    await expectError('GET', '/v2/app/x/manifests/no-such-tag', 404, 'MANIFEST_UNKNOWN');
    await expectError('GET', '/v2/app/nothing-here/manifests/v1', 404, 'MANIFEST_UNKNOWN');
  });

  test('unknown blob → 404 BLOB_UNKNOWN', async () => {
    await expectError('GET', `/v2/app/x/blobs/${DIGEST}`, 404, 'BLOB_UNKNOWN');
  });
});

describe('path tricks', () => {
  test.each([
    '/v2/../v2/app/x/manifests/v1',
    '/v2/app/../x/manifests/v1',
    '/v2/app/%2e%2e/x/manifests/v1',
    '/v2/app/%2E%2E/%2E%2E/etc/passwd/manifests/v1',
    '/v2/app//x/manifests/v1',
    '/v2//app/x/manifests/v1',
    '/v2/app%2fx/manifests/v1',
    '/v2/app%2Fx/blobs/' + DIGEST,
    '/v2/app/x/manifests/..%2f..%2fv1',
    '/v2/./app/x/manifests/v1',
  ])('%s is refused', async (path) => {
    const res = await send('GET', path);
    expect([400, 404], `${path} → ${res.status}`).toContain(res.status);
    const code = ociErrorCode(res.body);
    if (res.status === 400) expect(code).toBe('NAME_INVALID');
    else expect(code).toBeTypeOf('string');
  });
});

describe('upstream selection', () => {
  test.each(['169.254.169.254', 'metadata.google.internal', '169.254.169.254:80'])('ns=%s → 403 DENIED', async (ns) => {
    await expectError('GET', `/v2/app/x/manifests/v1?ns=${encodeURIComponent(ns)}`, 403, 'DENIED');
    await expectError('GET', `/v2/app/x/blobs/${DIGEST}?ns=${encodeURIComponent(ns)}`, 403, 'DENIED');
  });

  test('an ns outside --allow-registry → 403 DENIED', async () => {
    await expectError('GET', `/v2/app/x/manifests/v1?ns=${encodeURIComponent('registry.example.com')}`, 403, 'DENIED');
    await expectError('GET', '/v2/registry.example.com/app/x/manifests/v1', 403, 'DENIED');
  });

  test('an allowed ns is served', async () => {
    const res = await send('GET', `/v2/app/x/manifests/v1?ns=${encodeURIComponent(registry.host)}`);
    expect(res.status).toBe(200);
  });

  test('an allowed origin that is down → 502/503 with an OCI error', async () => {
    for (const path of ['/v2/app/x/manifests/v1', `/v2/app/x/blobs/${DIGEST}`]) {
      const res = await send('GET', `${path}?ns=${encodeURIComponent(stoppedRegistry.host)}`);
      expect([502, 503], `${path} → ${res.status}`).toContain(res.status);
      expect(ociErrorCode(res.body)).toBeTypeOf('string');
    }
  });
});

describe('push methods', () => {
  test.each([
    ['POST', '/v2/app/x/blobs/uploads/'],
    ['PUT', '/v2/app/x/manifests/v1'],
    ['PUT', `/v2/app/x/blobs/uploads/some-uuid?digest=${DIGEST}`],
    ['PATCH', '/v2/app/x/blobs/uploads/some-uuid'],
    ['DELETE', `/v2/app/x/manifests/${DIGEST}`],
    ['DELETE', `/v2/app/x/blobs/${DIGEST}`],
  ])('%s %s → 405 UNSUPPORTED', async (method, path) => {
    await expectError(method, path, 405, 'UNSUPPORTED');
  });
});

test('the daemon is still healthy after all of it', async () => {
  const res = await send('GET', '/healthz');
  expect(res.status).toBe(200);
  expect(daemon.service.child.exitCode).toBeNull();
});
