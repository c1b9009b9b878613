import { writeFile } from 'node:fs/promises';
import { runCommand, type CommandResult } from './command.ts';

export interface SkopeoCopyOptions {
  /** A registries.conf (see writeRegistriesConf); without it skopeo reads the system one. */
  registriesConf?: string;
  /** `user:password` for the source / destination registry. */
  srcCreds?: string;
  destCreds?: string;
  /** Manifest type to write at the destination. */
  format?: 'oci' | 'v2s2';
  /** Copy every image of an index, not only the host's platform. */
  all?: boolean;
  /** File to write the destination manifest's digest to. */
  digestFile?: string;
  timeoutMs?: number;
}

/**
 * `skopeo copy SRC DEST` over plain HTTP (TLS verification off on both ends, no signature policy).
 * Resolves with the exit code and output; it does not throw on failure so tests can assert on it.
 */
export function skopeoCopy(src: string, dest: string, options: SkopeoCopyOptions = {}): Promise<CommandResult> {
  const args = ['--insecure-policy'];
  if (options.registriesConf) args.push('--registries-conf', options.registriesConf);
  args.push('copy', '--src-tls-verify=false', '--dest-tls-verify=false');
  if (options.srcCreds) args.push('--src-creds', options.srcCreds);
  if (options.destCreds) args.push('--dest-creds', options.destCreds);
  if (options.format) args.push('--format', options.format);
  if (options.all) args.push('--all');
  if (options.digestFile) args.push('--digestfile', options.digestFile);
  args.push(src, dest);
  return runCommand('skopeo', args, options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
}

export interface RegistriesConfEntry {
  /** The registry images are named after, e.g. `127.0.0.1:5000`. */
  location: string;
  /** The mirror to try first, with an optional path prefix, e.g. `127.0.0.1:6000/127.0.0.1-5000`. */
  mirror: string;
}

/** Writes a registries.conf with one insecure (plain HTTP) registry and its mirror (shared/notes/clients.md). */
export async function writeRegistriesConf(file: string, entry: RegistriesConfEntry): Promise<string> {
  const toml = [
    'unqualified-search-registries = []',
    '[[registry]]',
    `location = ${JSON.stringify(entry.location)}`,
    'insecure = true',
    '[[registry.mirror]]',
    `location = ${JSON.stringify(entry.mirror)}`,
    'insecure = true',
    '',
  ].join('\n');
  await writeFile(file, toml);
  return file;
}
