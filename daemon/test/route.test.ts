import { describe, expect, it } from 'vitest';
import { OciError } from '@flotilla/oci';
import { parseRoute } from '../src/mirror/route.ts';
import type { UpstreamPolicy } from '../src/mirror/upstream.ts';

const policy: UpstreamPolicy = { defaultRegistry: 'docker.io', aliases: { corp: 'registry.corp.example:5000' }, allowed: [], configured: [] };
const D = `sha256:${'a'.repeat(64)}`;

function refused(method: string, url: string, p: UpstreamPolicy = policy): { status: number; code: string } {
  try {
    parseRoute(method, url, p);
  } catch (err) {
    if (err instanceof OciError) return { status: err.status, code: err.code };
    throw err;
  }
  throw new Error(`${method} ${url} was accepted`);
}

describe('parseRoute', () => {
  it('routes by ns, by alias, by host-like first segment, and by default', () => {
    expect(parseRoute('GET', `/v2/app/x/blobs/${D}?ns=127.0.0.1%3A5000`, policy)).toMatchObject({
      kind: 'blob', registry: '127.0.0.1:5000', repository: 'app/x', digest: { value: D },
    });
    expect(parseRoute('HEAD', '/v2/127.0.0.1-5000/app/x/manifests/v1', policy)).toMatchObject({
      kind: 'manifest', registry: '127.0.0.1:5000', repository: 'app/x', tag: 'v1',
    });
    expect(parseRoute('GET', '/v2/corp/team/app/manifests/latest', policy)).toMatchObject({
      registry: 'registry.corp.example:5000', repository: 'team/app',
    });
    expect(parseRoute('GET', '/v2/ghcr.io/o/img/manifests/1.0', policy)).toMatchObject({ registry: 'ghcr.io', repository: 'o/img' });
    expect(parseRoute('GET', '/v2/alpine/manifests/3', policy)).toMatchObject({ registry: 'docker.io', repository: 'library/alpine' });
    expect(parseRoute('GET', '/v2/team/app/manifests/3?ns=registry-1.docker.io', policy)).toMatchObject({ registry: 'docker.io' });
    expect(parseRoute('GET', `/v2/a/manifests/${D}`, policy)).toMatchObject({ kind: 'manifest', digest: { value: D } });
    expect(parseRoute('GET', `/v2/a/blobs/sha512:${'b'.repeat(128)}`, policy)).toMatchObject({ digest: { algorithm: 'sha512' } });
    expect(parseRoute('GET', '/v2/', policy)).toEqual({ kind: 'ping' });
    expect(parseRoute('GET', '/healthz', policy)).toEqual({ kind: 'health' });
  });

  it('refuses malformed names, digests and paths with the spec codes', () => {
    expect(refused('GET', '/v2/App/X/manifests/v1')).toEqual({ status: 400, code: 'NAME_INVALID' });
    expect(refused('GET', '/v2/a/../b/manifests/v1')).toEqual({ status: 400, code: 'NAME_INVALID' });
    expect(refused('GET', '/v2/a/%2e%2e/b/manifests/v1')).toEqual({ status: 400, code: 'NAME_INVALID' });
    expect(refused('GET', '/v2/a%2fb/manifests/v1')).toEqual({ status: 400, code: 'NAME_INVALID' });
    expect(refused('GET', '/v2/a//b/manifests/v1')).toEqual({ status: 400, code: 'NAME_INVALID' });
    expect(refused('GET', '/v2/a/blobs/sha256:xyz')).toEqual({ status: 400, code: 'DIGEST_INVALID' });
    expect(refused('GET', `/v2/a/blobs/md5:${'a'.repeat(32)}`)).toEqual({ status: 400, code: 'DIGEST_INVALID' });
    expect(refused('GET', `/v2/a/blobs/sha256:${'A'.repeat(64)}`)).toEqual({ status: 400, code: 'DIGEST_INVALID' });
    expect(refused('GET', '/v2/a/blobs/v1')).toEqual({ status: 400, code: 'DIGEST_INVALID' });
    expect(refused('GET', `/v2/a/manifests/${'t'.repeat(129)}`)).toEqual({ status: 400, code: 'MANIFEST_INVALID' });
    expect(refused('GET', '/v2/a/tags/list')).toEqual({ status: 404, code: 'UNSUPPORTED' });
  });

  it('refuses push methods with 405', () => {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      expect(refused(method, '/v2/a/blobs/uploads/')).toEqual({ status: 405, code: 'UNSUPPORTED' });
      expect(refused(method, '/v2/a/manifests/v1')).toEqual({ status: 405, code: 'UNSUPPORTED' });
    }
  });

  it('denies metadata and link-local upstreams, and registries outside the allow-list', () => {
    for (const ns of ['169.254.169.254', 'metadata.google.internal', '169.254.1.1:80', '[fe80::1]:5000', '100.100.100.200']) {
      expect(refused('GET', `/v2/a/manifests/v1?ns=${encodeURIComponent(ns)}`)).toEqual({ status: 403, code: 'DENIED' });
    }
    expect(refused('GET', '/v2/a/manifests/v1?ns=bad%20host')).toEqual({ status: 400, code: 'NAME_INVALID' });
    const strict = { ...policy, allowed: ['ghcr.io'], configured: ['127.0.0.1:5000'] };
    expect(refused('GET', '/v2/a/manifests/v1?ns=quay.io', strict)).toEqual({ status: 403, code: 'DENIED' });
    expect(parseRoute('GET', '/v2/a/manifests/v1?ns=ghcr.io', strict)).toMatchObject({ registry: 'ghcr.io' });
    expect(parseRoute('GET', '/v2/a/manifests/v1?ns=127.0.0.1:5000', strict)).toMatchObject({ registry: '127.0.0.1:5000' });
    expect(parseRoute('GET', '/v2/a/manifests/v1', strict)).toMatchObject({ registry: 'docker.io' });
  });
});
