import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSwarmKey } from '../src/swarm-key.ts';
import { TestNetwork } from '../src/testing.ts';
import { fetchBytes, serveRandomBytes } from './bulk.ts';

const MiB = 1024 * 1024;

describe('private network (swarm key)', () => {
  let net: TestNetwork;
  beforeAll(async () => {
    net = await TestNetwork.create();
  });
  afterAll(async () => {
    await net.stop();
  });

  it('generates keys in the standard psk format', () => {
    const key = generateSwarmKey();
    expect(key).toMatch(/^\/key\/swarm\/psk\/1\.0\.0\/\n\/base16\/\n[0-9a-f]{64}\n$/);
    expect(generateSwarmKey()).not.toBe(key);
  });

  it('moves 64 MiB between nodes sharing a key and refuses a node without it', async () => {
    const swarmKey = generateSwarmKey();
    const server = await net.node({ swarmKey });
    const member = await net.node({ swarmKey });
    const sender = await serveRandomBytes(server, '/test/bulk/1.0.0', 64 * MiB);

    const receipt = await fetchBytes(member, server, '/test/bulk/1.0.0', 64 * MiB);
    expect(receipt.digest).toBe(await sender.sent);

    const outsider = await net.node();
    await expect(outsider.dial(server.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    const otherNetwork = await net.node({ swarmKey: generateSwarmKey() });
    await expect(otherNetwork.dial(server.getMultiaddrs(), { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();
    expect(server.getConnections().map((c) => c.remotePeer.toString())).toEqual([member.peerId.toString()]);
  }, 120_000);
});
