import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pushBlob, startCountingProxy, startRegistry, waitFor, type CountingProxy, type Registry } from '@flotilla/test';
import { bootstrapped, linesWith, pullBlob, startSchedulerProcess, startSwarmDaemon, type SchedulerProcess, type SwarmDaemon } from './p2p-dht-support.ts';

// Issue 4: task meta signed by a scheduler travels between daemons; only a scheduler key the receiver trusts makes
// its piece digests count. Real processes on loopback.

const MiB = 1024 * 1024;
const REPO = 'app/trust';

let dir: string;
let registry: Registry;
let proxy: CountingProxy;
let scheduler: SchedulerProcess;
const daemons: SwarmDaemon[] = [];
let holder: SwarmDaemon;
let digest: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-dht-trust-'));
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
  scheduler = await startSchedulerProcess(join(dir, 'scheduler'), proxy.host);
  holder = await startSwarmDaemon(proxy.host, ['--scheduler', scheduler.address, '--log-level', 'debug']);
  daemons.push(holder);
  digest = await pushBlob(registry, REPO, randomBytes(5 * MiB));
  expect((await pullBlob(holder, REPO, digest)).digest).toBe(digest);
  await waitFor(() => linesWith(holder, 'provided', { digest }).length > 0, 10_000);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await scheduler?.service.stop();
  await proxy?.close();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/**
 * A daemon with no scheduler, bootstrapped to the holder. It joined after the holder provided the blob, so its
 * lookup goes over the network: a generous deadline keeps this test about trust, not latency, on a loaded machine.
 */
async function seeker(args: string[] = []): Promise<SwarmDaemon> {
  const daemon = await startSwarmDaemon(proxy.host, ['--bootstrap', holder.p2pAddress, '--dht-lookup-timeout', '2s', ...args]);
  daemons.push(daemon);
  await bootstrapped(daemon);
  return daemon;
}

describe('signed task meta between daemons', () => {
  test('meta signed by a scheduler the receiver does not trust is rejected: the blob is verified whole instead', async () => {
    const untrusting = await seeker();
    const pull = await pullBlob(untrusting, REPO, digest);
    expect(pull.digest).toBe(digest);
    expect(linesWith(untrusting, 'task meta rejected', { digest, signer: scheduler.peerId, peer: holder.peerId })).toHaveLength(1);
    expect(linesWith(untrusting, 'blob from DHT providers', { digest, signed: false })).toHaveLength(1);
  });

  test('under --trust-scheduler the same meta is accepted and its piece digests used', async () => {
    const trusting = await seeker(['--trust-scheduler', scheduler.peerId]);
    const pull = await pullBlob(trusting, REPO, digest);
    expect(pull.digest).toBe(digest);
    expect(linesWith(trusting, 'task meta rejected')).toHaveLength(0);
    expect(linesWith(trusting, 'blob from DHT providers', { digest, signed: true })).toHaveLength(1);
    expect(proxy.blobBytes(digest)).toBe(5 * MiB); // the scheduler's seed only
  });
});
