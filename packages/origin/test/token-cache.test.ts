import { afterAll, beforeAll, expect, it } from 'vitest';
import { waitFor } from '@flotilla/test';
import type { OriginClient } from '../src/index.ts';
import { readAll, startTestServer, testClient, type TestServer } from './helpers.ts';

// Fake registry + token server to control what real servers do not: token-only `access_token` answers and expiry.
let tokenServer: TestServer;
let registry: TestServer;
let client: OriginClient;
let issued = 0;

beforeAll(async () => {
  tokenServer = await startTestServer((_req, res) => {
    issued++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: `tok-${issued}`, expires_in: 1 }));
  });
  registry = await startTestServer((req, res) => {
    if (req.headers.authorization?.startsWith('Bearer tok-')) return res.writeHead(200).end('content');
    res
      .writeHead(401, { 'www-authenticate': `Bearer realm="${tokenServer.url}/token",service="fake"` })
      .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
  });
  client = testClient();
});
afterAll(async () => {
  await client?.close();
  await Promise.all([tokenServer?.close(), registry?.close()]);
});

const get = () => client.request({ registry: registry.host, repository: 'app/x', kind: 'manifests', reference: 'v1', method: 'GET' });

it('uses access_token, asks for the default pull scope, and fetches a new token once the old one is about to expire', async () => {
  const first = await get();
  expect(first.status).toBe(200);
  expect((await readAll(first.body)).toString()).toBe('content');
  const tokenRequest = new URL(tokenServer.requests[0]!.url!, tokenServer.url);
  expect(tokenRequest.searchParams.get('scope')).toBe('repository:app/x:pull');
  expect(tokenRequest.searchParams.get('service')).toBe('fake');
  expect(tokenServer.requests[0]!.headers.authorization).toBeUndefined();
  expect(registry.requests.at(-1)!.headers.authorization).toBe('Bearer tok-1');

  // expires_in: 1 → reused for at most half a second, then replaced.
  await waitFor(async () => {
    await readAll((await get()).body);
    return issued === 2;
  }, 5_000);
  expect(registry.requests.at(-1)!.headers.authorization).toBe('Bearer tok-2');
});
