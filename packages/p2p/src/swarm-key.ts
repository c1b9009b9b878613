import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const HEADER = '/key/swarm/psk/1.0.0/\n/base16/\n';

/** A fresh private-network key in the standard `/key/swarm/psk/1.0.0/` format (as IPFS/libp2p tools write it). */
export function generateSwarmKey(): string {
  return `${HEADER}${randomBytes(32).toString('hex')}\n`;
}

/** Reads a swarm key file; @libp2p/pnet parses and validates the format itself when the node is created. */
export async function readSwarmKey(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(path));
}
