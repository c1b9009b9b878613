import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable, type Readable } from 'node:stream';
import { createLogger } from '@flotilla/log';
import { OriginClient, type OriginClientOptions, type RegistryAccess } from '../src/index.ts';

/** An OriginClient with short deadlines; `access` defaults to plain http with no credentials. */
export function testClient(
  access: Record<string, Partial<RegistryAccess>> = {},
  overrides: Partial<OriginClientOptions> = {},
): OriginClient {
  return new OriginClient({
    access: (registry) => ({ insecure: true, ...access[registry] }),
    connectTimeoutMs: 2_000,
    firstByteTimeoutMs: 5_000,
    idleTimeoutMs: 5_000,
    logger: createLogger({ name: 'origin-test', level: 'silent' }),
    ...overrides,
  });
}

/** A logger whose JSON lines are kept for assertions. */
export function recordingLogger(): { logger: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>> } {
  const text: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ name: 'origin-test', level: 'debug', destination: sink });
  const lines = () =>
    text
      .join('')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, lines };
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** A node:http server on 127.0.0.1 that records every request it gets. */
export interface TestServer {
  url: string;
  host: string;
  requests: IncomingMessage[];
  close(): Promise<void>;
}

export async function startTestServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `http://${host}`,
    host,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
