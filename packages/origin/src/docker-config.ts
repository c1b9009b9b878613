import { readFileSync } from 'node:fs';

export interface Credentials {
  username: string;
  password: string;
}

/** Keys docker uses for Docker Hub in config.json, all meaning the logical registry "docker.io". */
const DOCKER_HUB_ALIASES = new Set(['index.docker.io', 'registry-1.docker.io', 'docker.io']);

/**
 * Reads the "auths" section of a docker config.json. Entries carry either `auth` (base64 "user:password") or
 * `username`/`password`; keys are normalized to the logical registry host. A missing file means no credentials.
 */
export function readDockerConfigCredentials(path: string): Map<string, Credentials> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const config = JSON.parse(text) as { auths?: Record<string, { auth?: string; username?: string; password?: string }> };
  const credentials = new Map<string, Credentials>();
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    const parsed = entryCredentials(entry);
    if (parsed) credentials.set(normalizeRegistryKey(key), parsed);
  }
  return credentials;
}

function entryCredentials(entry: { auth?: string; username?: string; password?: string }): Credentials | undefined {
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

/** "https://index.docker.io/v1/" → "docker.io"; "http://127.0.0.1:5000/" → "127.0.0.1:5000". */
function normalizeRegistryKey(key: string): string {
  const host = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').split('/')[0]!.toLowerCase();
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host;
}
