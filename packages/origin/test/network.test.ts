import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runChecked } from '@flotilla/test';
import type { OriginRequest } from '../src/index.ts';
import { readAll } from './helpers.ts';
import { afterThisTest, client, expectOriginError, server } from './scaffold.ts';

const blob = (registry: string, extra: Partial<OriginRequest> = {}): OriginRequest => ({
  registry,
  repository: 'app/x',
  kind: 'blobs',
  reference: `sha256:${'a'.repeat(64)}`,
  method: 'GET',
  ...extra,
});

describe('redirects', () => {
  it('follows them, keeping Authorization on the registry origin and dropping it elsewhere', async () => {
    const storage = await server((_req, res) => res.writeHead(200, { 'content-length': '5' }).end('bytes'));
    const registry = await server((req, res) => {
      if (req.url!.startsWith('/v2/')) res.writeHead(302, { location: '/internal/blob' }).end();
      else res.writeHead(307, { location: `${storage.url}/bucket/blob?signature=abc` }).end();
    });
    const res = await client().request(blob(registry.host, { authorization: 'Bearer secret-token', range: 'bytes=0-4' }));
    expect(res.status).toBe(200);
    expect((await readAll(res.body)).toString()).toBe('bytes');
    expect(res.url).toBe(`${storage.url}/bucket/blob?signature=abc`);
    expect(registry.requests.map((r) => [r.url, r.headers.authorization])).toEqual([
      [`/v2/app/x/blobs/sha256:${'a'.repeat(64)}`, 'Bearer secret-token'],
      ['/internal/blob', 'Bearer secret-token'],
    ]);
    expect(storage.requests).toHaveLength(1);
    expect(storage.requests[0]!.headers.authorization).toBeUndefined();
    expect(storage.requests[0]!.headers.range).toBe('bytes=0-4');
  });

  it('gives up after 5 redirects with a protocol error', async () => {
    const loop = await server((_req, res) => res.writeHead(302, { location: '/again' }).end());
    await expectOriginError(client().request(blob(loop.host)), 'protocol');
    expect(loop.requests).toHaveLength(6);
  });
});

describe('TLS', () => {
  let dir: string;
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('verifies https, trusting the configured CA in addition to the system roots', async () => {
    dir = await mkdtemp(join(tmpdir(), 'origin-tls-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    await runChecked('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert,
      '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
    const caPem = await readFile(cert, 'utf8');
    const https = createHttpsServer({ key: await readFile(key), cert: caPem }, (_req, res) => res.end('secure'));
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    afterThisTest(() => new Promise<void>((resolve) => https.close(() => resolve())));
    https.on('connection', (socket) => afterThisTest(() => void socket.destroy()));
    const host = `127.0.0.1:${(https.address() as AddressInfo).port}`;

    await expectOriginError(client({ [host]: { insecure: false } }).request(blob(host)), 'unreachable');
    const res = await client({ [host]: { insecure: false, caPem } }).request(blob(host));
    expect(res.status).toBe(200);
    expect(res.url.startsWith('https://')).toBe(true);
    expect((await readAll(res.body)).toString()).toBe('secure');
  });
});
