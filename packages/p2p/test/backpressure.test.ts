import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_HIGH_WATER_MARK } from '../src/reader.ts';
import { TestNetwork } from '../src/testing.ts';
import { fetchBytes, serveRandomBytes } from './bulk.ts';

const MiB = 1024 * 1024;

describe('stream backpressure between two loopback nodes', () => {
  let net: TestNetwork;
  beforeAll(async () => {
    net = await TestNetwork.create();
  });
  afterAll(async () => {
    await net.stop();
  });

  it('moves 128 MiB to a slow consumer with bounded buffering and an intact digest', async () => {
    const server = await net.node();
    const client = await net.node();
    const sender = await serveRandomBytes(server, '/test/bulk/1.0.0', 128 * MiB);

    // ~100 MiB/s consumer against a ~400 MiB/s sender: without pause() most of the blob would pile up.
    const receipt = await fetchBytes(client, server, '/test/bulk/1.0.0', 128 * MiB, 10);

    expect(receipt.digest).toBe(await sender.sent);
    expect(receipt.peakBuffered).toBeGreaterThanOrEqual(DEFAULT_HIGH_WATER_MARK); // the consumer really was slower
    expect(receipt.peakBuffered).toBeLessThan(48 * MiB);
    expect(sender.peakWriteBuffer()).toBeLessThan(16 * MiB);
  }, 120_000);
});
