import { describe, expect, it } from 'vitest';
import { freePort, waitFor } from '@flotilla/test';
import { OriginError, type OriginClient } from '../src/index.ts';
import { readAll } from './helpers.ts';
import { client, expectOriginError, rawServer, readBody, server } from './scaffold.ts';

// The origin's deadlines and failures, on both of the client's transports: request() (undici, node streams) and
// requestBlob() (the pooled HTTP/1.1 client of cold blob pulls).

interface Transport {
  name: string;
  /** A blob GET to `registry`; resolves once the head is in. */
  get(origin: OriginClient, registry: string, signal?: AbortSignal): Promise<{ status: number; read(): Promise<Buffer> }>;
  /** How far past a deadline it may fire: undici checks on a ~1 s timer, ours are socket timers. */
  timerSlackMs: number;
  /** An abort rejects the body with the signal's reason itself (else with some non-origin error). */
  abortsWithReason: boolean;
}

const blob = { repository: 'app/x', reference: `sha256:${'a'.repeat(64)}` };

const TRANSPORTS: Transport[] = [
  {
    name: 'request()',
    async get(origin, registry, signal) {
      const res = await origin.request({ registry, ...blob, kind: 'blobs', method: 'GET', ...(signal ? { signal } : {}) });
      return { status: res.status, read: () => readAll(res.body) };
    },
    timerSlackMs: 1_250,
    abortsWithReason: false,
  },
  {
    name: 'requestBlob()',
    async get(origin, registry, signal) {
      const res = await origin.requestBlob({ registry, ...blob, ...(signal ? { signal } : {}) });
      return { status: res.status, read: () => readBody(res.body) };
    },
    timerSlackMs: 1_000,
    abortsWithReason: true,
  },
];

describe.each(TRANSPORTS)('deadlines and failures: $name', (transport) => {
  it('first byte: a server that accepts and never answers times out, naming the host', async () => {
    const host = await rawServer(() => {});
    const started = Date.now();
    await expectOriginError(transport.get(client({}, { firstByteTimeoutMs: 500 }), host), 'timeout', new RegExp(host));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(450);
    expect(elapsed).toBeLessThan(500 + transport.timerSlackMs);
  });

  it('body idle: headers and half a body, then a stall, fail the body with a timeout', async () => {
    const stalled = await server((_req, res) => {
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(500, 1));
    });
    const res = await transport.get(client({}, { idleTimeoutMs: 500 }), stalled.host);
    expect(res.status).toBe(200);
    const started = Date.now();
    await expectOriginError(res.read(), 'timeout');
    expect(Date.now() - started).toBeLessThan(500 + transport.timerSlackMs);
  });

  it('connection refused is unreachable', async () => {
    const port = await freePort();
    await expectOriginError(transport.get(client(), `127.0.0.1:${port}`), 'unreachable');
  });

  it('aborting via the signal fails the body and closes the upstream connection', async () => {
    let upstreamClosed = false;
    const stalled = await server((req, res) => {
      req.socket.once('close', () => (upstreamClosed = true));
      res.writeHead(200, { 'content-length': '1000' });
      res.write(Buffer.alloc(10));
    });
    const controller = new AbortController();
    const res = await transport.get(client(), stalled.host, controller.signal);
    const reading = res.read().then(
      () => 'ended',
      (err: unknown) => err,
    );
    const reason = new Error('shutting down');
    controller.abort(reason);
    const outcome = await reading;
    expect(outcome).toBeInstanceOf(Error);
    expect(outcome).not.toBeInstanceOf(OriginError);
    if (transport.abortsWithReason) expect(outcome).toBe(reason);
    await waitFor(() => upstreamClosed, 2_000);
  });
});
