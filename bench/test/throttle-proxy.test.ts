import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startThrottleProxy, type ThrottleProxy } from '../src/fanout/throttle-proxy.ts';

const BODY = randomBytes(2_000_000);
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let origin: Server;
let originHost: string;
const proxies: ThrottleProxy[] = [];

beforeAll(async () => {
  origin = createServer((req, res) => {
    if (req.url !== '/blob') return res.writeHead(404).end('nope');
    res.writeHead(200, { 'content-length': String(BODY.length) }).end(req.method === 'HEAD' ? undefined : BODY);
  });
  await new Promise<void>((resolve) => origin.listen(0, '127.0.0.1', resolve));
  originHost = `127.0.0.1:${(origin.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await new Promise((resolve) => origin.close(resolve));
});

async function proxy(egressRate: number, linkRates: number[]): Promise<ThrottleProxy> {
  const started = await startThrottleProxy({ target: originHost, egressRate, linkRates });
  proxies.push(started);
  return started;
}

async function timedGet(host: string, path = '/blob'): Promise<{ status: number; body: Buffer; seconds: number }> {
  const begin = performance.now();
  const res = await fetch(`http://${host}${path}`);
  const body = Buffer.from(await res.arrayBuffer());
  return { status: res.status, body, seconds: (performance.now() - begin) / 1000 };
}

describe('throttle proxy', () => {
  test('one client gets the bytes intact at its own link rate, not faster', async () => {
    const p = await proxy(8_000_000, [2_000_000]);
    const { status, body, seconds } = await timedGet(p.linkHosts[0]!);
    expect(status).toBe(200);
    expect(sha(body)).toBe(sha(BODY));
    // 2 MB at 2 MB/s, less the bucket's initial burst of 1/10 s (200 kB): at least 0.9 s.
    expect(seconds).toBeGreaterThan(0.85);
    expect(seconds).toBeLessThan(3);
    expect(p.stats().egressBytes).toBe(BODY.length);
  });

  test('clients on separate links share the server uplink', async () => {
    const p = await proxy(2_000_000, [4_000_000, 4_000_000, 4_000_000]);
    const begin = performance.now();
    const results = await Promise.all(p.linkHosts.map((host) => timedGet(host)));
    const seconds = (performance.now() - begin) / 1000;
    for (const r of results) expect(sha(r.body)).toBe(sha(BODY));
    // 6 MB through a 2 MB/s uplink (each link alone would allow 0.5 s): about 2.9 s after the 200 kB burst.
    expect(seconds).toBeGreaterThan(2.7);
    expect(seconds).toBeLessThan(6);
    expect(p.stats().egressBytes).toBe(3 * BODY.length);
  });

  test('passes statuses, HEAD and errors through; an unreachable target is a 502', async () => {
    const p = await proxy(0, [0]);
    expect((await timedGet(p.linkHosts[0]!, '/missing')).status).toBe(404);
    const head = await fetch(`http://${p.linkHosts[0]}/blob`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(BODY.length));
    const dead = await startThrottleProxy({ target: '127.0.0.1:1', egressRate: 0, linkRates: [0] });
    proxies.push(dead);
    expect((await timedGet(dead.linkHosts[0]!)).status).toBe(502);
  });
});
