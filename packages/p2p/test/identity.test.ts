import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateIdentity } from '../src/identity.ts';
import { TestNetwork } from '../src/testing.ts';

describe('node identity', () => {
  let net: TestNetwork;
  beforeAll(async () => {
    net = await TestNetwork.create();
  });
  afterAll(async () => {
    await net.stop();
  });

  it('keeps the same peer id across a restart and stores the key owner-only', async () => {
    const identityFile = join(net.dir, 'persistent', 'node.key');
    const first = await net.node({ identityFile });
    const peerId = first.peerId.toString();
    await first.stop();

    const second = await net.node({ identityFile });
    expect(second.peerId.toString()).toBe(peerId);
    expect((await stat(identityFile)).mode & 0o777).toBe(0o600);
  });

  it('creates distinct keys for distinct files and rejects a corrupt key file', async () => {
    const a = await loadOrCreateIdentity(join(net.dir, 'a.key'));
    const b = await loadOrCreateIdentity(join(net.dir, 'b.key'));
    expect(a.type).toBe('Ed25519');
    expect(a.publicKey.equals(b.publicKey)).toBe(false);
    expect((await loadOrCreateIdentity(join(net.dir, 'a.key'))).publicKey.equals(a.publicKey)).toBe(true);

    await writeFile(join(net.dir, 'corrupt.key'), 'not a key');
    await expect(loadOrCreateIdentity(join(net.dir, 'corrupt.key'))).rejects.toThrow();
  });
});
