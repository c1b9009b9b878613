import { createPrivateKey, createPublicKey, createHash, randomUUID, sign, type KeyObject } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { runChecked } from './command.ts';

/** A Docker token server (the `auth.token` realm) for docker-registry, per /work/shared/notes/origin-auth.md. */
export interface TokenServer {
  /** The realm URL. */
  url: string;
  service: string;
  issuer: string;
  /** Certificate bundle for the registry's `auth.token.rootcertbundle`. */
  rootCertBundlePath: string;
  /** How many tokens were issued so far. */
  readonly issued: number;
  stop(): Promise<void>;
}

export interface TokenServerOptions {
  /** username → password; these get pull and push, anonymous callers pull only. */
  users: Record<string, string>;
  /** Where the signing key and certificate are written. */
  dir: string;
}

const SERVICE = 'flotilla-test-registry';
const ISSUER = 'flotilla-test-issuer';
const TOKEN_LIFETIME_S = 300;
const AUTHENTICATED_ACTIONS = new Set(['pull', 'push', 'delete', '*']);
const ANONYMOUS_ACTIONS = new Set(['pull']);

/** Starts the token server on 127.0.0.1 with a fresh RS256 key and self-signed certificate. */
export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  await mkdir(options.dir, { recursive: true });
  const keyPath = join(options.dir, 'token.key');
  const certPath = join(options.dir, 'token.crt');
  await runChecked('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath,
    '-days', '3650', '-subj', '/CN=flotilla-test-token',
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const kid = libtrustKeyId(await readFile(certPath, 'utf8'));
  let issued = 0;

  const server = createServer((req, res) => {
    const token = handleTokenRequest(req, res, options.users, key, kid);
    if (token) issued++;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    service: SERVICE,
    issuer: ISSUER,
    rootCertBundlePath: certPath,
    get issued() {
      return issued;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Answers one token request; returns whether a token was issued. */
function handleTokenRequest(
  req: IncomingMessage,
  res: ServerResponse,
  users: Record<string, string>,
  key: KeyObject,
  kid: string,
): boolean {
  const url = new URL(req.url ?? '/', 'http://token');
  // containerd tries an OAuth POST first and falls back to GET on 404/405.
  if (req.method !== 'GET' || url.pathname !== '/token') return reply(res, 405, { error: 'use GET /token' });
  const account = basicAccount(req.headers.authorization, users);
  if (account === null) return reply(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'invalid credentials' }] });
  const allowed = account ? AUTHENTICATED_ACTIONS : ANONYMOUS_ACTIONS;
  const access = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).flatMap((scope) => {
    const parts = scope.split(':');
    if (parts.length < 3) return [];
    const actions = parts.at(-1)!.split(',').filter((a) => allowed.has(a));
    return [{ type: parts[0]!, name: parts.slice(1, -1).join(':'), actions }];
  });
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    iss: ISSUER,
    sub: account ?? '',
    aud: SERVICE,
    exp: now + TOKEN_LIFETIME_S,
    nbf: now - 1,
    iat: now,
    jti: randomUUID(),
    access,
  };
  const token = signJwt({ typ: 'JWT', alg: 'RS256', kid }, claims, key);
  reply(res, 200, {
    token,
    access_token: token,
    expires_in: TOKEN_LIFETIME_S,
    issued_at: new Date(now * 1000).toISOString(),
  });
  return true;
}

/** undefined: anonymous; null: credentials given but wrong; otherwise the authenticated user name. */
function basicAccount(header: string | undefined, users: Record<string, string>): string | undefined | null {
  if (!header) return undefined;
  const [scheme, encoded] = header.split(' ');
  if (scheme?.toLowerCase() !== 'basic' || !encoded) return null;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = decoded.slice(0, colon);
  return colon > 0 && Object.hasOwn(users, user) && users[user] === decoded.slice(colon + 1) ? user : null;
}

function reply(res: ServerResponse, status: number, body: unknown): false {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  return false;
}

function signJwt(header: object, claims: object, key: KeyObject): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const signingInput = `${encode(header)}.${encode(claims)}`;
  return `${signingInput}.${sign('sha256', Buffer.from(signingInput), key).toString('base64url')}`;
}

/** libtrust key id: base32 of the first 240 bits of sha256(DER SPKI), in 12 colon-separated groups of 4. */
function libtrustKeyId(certPem: string): string {
  const der = createPublicKey(certPem).export({ type: 'spki', format: 'der' });
  return base32(createHash('sha256').update(der).digest().subarray(0, 30)).match(/.{4}/g)!.join(':');
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding (input lengths here are multiples of 5 bytes). */
function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}
