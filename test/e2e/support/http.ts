import { createHash } from 'node:crypto';
import { request, type IncomingHttpHeaders } from 'node:http';

/** What a raw HTTP exchange produced: the body as received, and whether it arrived whole. */
export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** True when the body ended normally (not aborted, reset or cut by the server). */
  complete: boolean;
  /** The error that cut the body short, if any. */
  error?: Error;
}

export interface RawRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Called with each body chunk (e.g. to kill a process once the first bytes are in). */
  onData?: (chunk: Buffer, receivedSoFar: number) => void;
  timeoutMs?: number;
}

/**
 * One HTTP/1.1 request with node:http, not fetch: the path goes out byte for byte (no `..` normalisation), no
 * Accept-Encoding is added and nothing is decompressed, so the test sees exactly what a registry client would.
 */
export function rawRequest(baseUrl: string, path: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: options.method ?? 'GET',
        path,
        headers: options.headers ?? {},
        agent: false,
        timeout: options.timeoutMs ?? 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let received = 0;
        let settled = false;
        const finish = (complete: boolean, error?: Error) => {
          if (settled) return;
          settled = true;
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, complete, ...(error ? { error } : {}) });
        };
        res.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          received += chunk.length;
          options.onData?.(chunk, received);
        });
        res.on('end', () => finish(res.complete));
        res.on('error', (err) => finish(false, err));
        res.on('close', () => finish(res.complete, res.complete ? undefined : new Error('connection closed mid-body')));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer to ${options.method ?? 'GET'} ${path} within the timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** `errors[0].code` of an OCI error body, or undefined when the body is not one. */
export function ociErrorCode(body: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(body.toString()) as { errors?: { code?: unknown }[] };
    const code = parsed.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}

export function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}
