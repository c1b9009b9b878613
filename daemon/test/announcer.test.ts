import { silentLogger } from '@flotilla/log';
import { parseDigest } from '@flotilla/oci';
import { Bootstrapper, contentKey, type ClusterDht } from '@flotilla/p2p';
import { TestNetwork } from '@flotilla/p2p/testing';
import type { ContentStore } from '@flotilla/store';
import { waitFor } from '@flotilla/test';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContentAnnouncer } from '../src/swarm/announcer.ts';
import { makeBlob, storeWith, type TestBlob } from './swarm-support.ts';

/** A DHT stand-in that records provides and withdrawals. */
function recordingDht(): { dht: ClusterDht; provided: string[]; withdrawn: string[] } {
  const provided: string[] = [];
  const withdrawn: string[] = [];
  const dht = {
    routingTable: { size: 1 },
    async *provide(key: { toString(): string }) {
      provided.push(key.toString());
    },
    async cancelReprovide(key: { toString(): string }) {
      withdrawn.push(key.toString());
    },
  } as unknown as ClusterDht;
  return { dht, provided, withdrawn };
}

function keyOf(blob: TestBlob): string {
  return contentKey(parseDigest(blob.digest)).toString();
}

async function commit(store: ContentStore, blob: TestBlob): Promise<void> {
  const writer = await store.createWriter(parseDigest(blob.digest), blob.bytes.length);
  await writer.write(0, blob.bytes);
  await writer.commit({ source: 'test' });
}

describe('content announcer', () => {
  const stores: ContentStore[] = [];
  const announcers: ContentAnnouncer[] = [];
  afterEach(async () => {
    for (const a of announcers.splice(0)) a.stop();
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('provides what the store held at startup and what it commits later, renews on schedule, withdraws on deletion', async () => {
    const [old, fresh] = [makeBlob(1000), makeBlob(2000)];
    const store = await storeWith([old!]);
    stores.push(store);
    const { dht, provided, withdrawn } = recordingDht();
    const announcer = new ContentAnnouncer({ dht, store, reprovideIntervalMs: 1_000, logger: silentLogger() });
    announcers.push(announcer);
    await announcer.start();
    await waitFor(() => provided.length === 1, 2_000);
    expect(provided).toEqual([keyOf(old!)]);

    await commit(store, fresh!);
    await waitFor(() => provided.includes(keyOf(fresh!)), 2_000);
    expect(announcer.digests.sort()).toEqual([old!.digest, fresh!.digest].sort());

    // Renewed within 0.9–1.1 intervals (checked every 500 ms).
    await waitFor(() => provided.filter((k) => k === keyOf(old!)).length >= 2, 3_000);

    await store.delete(old!.digest);
    await waitFor(() => withdrawn.includes(keyOf(old!)), 1_000);
    const count = provided.filter((k) => k === keyOf(old!)).length;
    await new Promise((r) => setTimeout(r, 1_800)); // past another renewal time
    expect(provided.filter((k) => k === keyOf(old!)).length).toBe(count);
    expect(announcer.digests).toEqual([fresh!.digest]);
  });

  it('waits for a DHT peer before providing', async () => {
    const store = await storeWith([makeBlob(100)]);
    stores.push(store);
    const { dht, provided } = recordingDht();
    (dht.routingTable as { size: number }).size = 0;
    const announcer = new ContentAnnouncer({ dht, store, reprovideIntervalMs: 60_000, logger: silentLogger() });
    announcers.push(announcer);
    await announcer.start();
    await new Promise((r) => setTimeout(r, 600));
    expect(provided).toEqual([]);
    (dht.routingTable as { size: number }).size = 1;
    await waitFor(() => provided.length === 1, 2_000);
  });

  describe('on a real DHT', () => {
    let net: TestNetwork;
    const bootstrappers: Bootstrapper[] = [];
    beforeAll(async () => {
      net = await TestNetwork.create();
    });
    afterAll(async () => {
      await Promise.all(bootstrappers.map((b) => b.stop()));
      await net.stop();
    });

    it('a committed blob is found as provided by another node', async () => {
      const [holder, seeker] = await Promise.all([net.node({ dht: {} }), net.node({ dht: {} })]);
      const bootstrapper = new Bootstrapper({ node: seeker!, targets: holder!.getMultiaddrs().map(String), logger: silentLogger() });
      bootstrapper.start();
      bootstrappers.push(bootstrapper);
      const store = await storeWith([]);
      stores.push(store);
      const announcer = new ContentAnnouncer({ dht: holder!.services.dht!, store, reprovideIntervalMs: 60_000, logger: silentLogger() });
      announcers.push(announcer);
      await announcer.start();
      const blob = makeBlob(4096);
      await commit(store, blob);

      const key = contentKey(parseDigest(blob.digest));
      const found = await waitFor(async () => {
        for await (const event of seeker!.services.dht!.findProviders(key, { signal: AbortSignal.timeout(1_000) })) {
          if (event.name === 'PROVIDER' && event.providers.length > 0) return event.providers.map((p) => p.id.toString());
        }
        return undefined;
      }, 10_000);
      expect(found).toEqual([holder!.peerId.toString()]);
    });
  });
});
