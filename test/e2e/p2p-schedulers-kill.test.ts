import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pushBlob, startCountingProxy, startRegistry, waitFor, type CountingProxy, type Registry } from '@flotilla/test';
import { linesWith, pullBlob, startSchedulerProcess, startSwarmDaemon, type SchedulerProcess, type SwarmDaemon } from './p2p-dht-support.ts';

// Issue 4: the only scheduler is killed when a 10-node fan-out is about a third done. The daemons carry on among
// themselves (DHT, first-fetcher ranks for what nobody has): every node finishes with correct bytes and the
// origin, measured by a counting proxy, serves at most twice the blob.

const MiB = 1024 * 1024;
const NODES = 10;
const SIZE = 32 * MiB;
const REPO = 'app/kill';
/** Every node's uplink, the seed's included (see p2p-fanout): with loopback unlimited the run would be over at once. */
const UPLOAD_RATE = '8MB';
/**
 * Eleven nodes on two cores are CPU-bound: the seed's pieces and the scheduler's answers come late, and the default
 * deadlines (2 s a piece, 1 s a call) would send pieces to the origin before the kill. This test is about the kill.
 */
const PATIENT = ['--piece-timeout', '5s', '--scheduler-timeout', '5s'];

let dir: string;
let registry: Registry;
let proxy: CountingProxy;
let scheduler: SchedulerProcess;
let daemons: SwarmDaemon[] = [];
let digest: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-sched-kill-'));
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
  digest = await pushBlob(registry, REPO, randomBytes(SIZE));
  scheduler = await startSchedulerProcess(join(dir, 'scheduler'), proxy.host, ['--upload-rate', UPLOAD_RATE]);
  daemons = await Promise.all(
    Array.from({ length: NODES }, () => startSwarmDaemon(proxy.host, ['--scheduler', scheduler.address, '--upload-rate', UPLOAD_RATE, ...PATIENT])),
  );
  await Promise.all(daemons.map((d) => waitFor(() => linesWith(d, 'registered with the scheduler').length > 0, 10_000)));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await scheduler?.service.stop();
  await proxy?.close();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('scheduler killed mid fan-out', () => {
  test('killed when a third of the bytes are delivered: all 10 finish with correct bytes, the origin serves ≤ 2× the blob', async () => {
    let delivered = 0;
    let killed: Promise<void> | undefined;
    let killedAtMs = 0;
    let originAtKill = 0;
    let doneAfterKill = 0;
    const started = performance.now();
    const results = await Promise.all(
      daemons.map((d) =>
        pullBlob(d, REPO, digest, (n) => {
          delivered += n;
          if (!killed && delivered >= (NODES * SIZE) / 3) {
            killedAtMs = performance.now() - started;
            originAtKill = proxy.blobBytes(digest);
            killed = scheduler.service.kill();
          }
        }).then((pull) => {
          if (killed) doneAfterKill++;
          return pull.digest;
        }),
      ),
    );
    const wallMs = performance.now() - started;
    await killed;
    const origin = proxy.blobBytes(digest);
    // Daemons that still needed the seed when it died say so; with the seed's pieces all in the swarm by then, none need to.
    const carriedOn = daemons.filter((d) => linesWith(d, 'seed gone: the swarm carries on', { digest }).length > 0).length;
    console.log(
      `kill at 1/3: ${Math.round(wallMs)} ms (killed at ${Math.round(killedAtMs)} ms), origin served ${(origin / SIZE).toFixed(2)}x the blob (${(originAtKill / SIZE).toFixed(2)}x before the kill),` +
        ` ${doneAfterKill} pulls finished after the kill, ${carriedOn} daemons noticed the seed gone`,
    );
    expect(killed).toBeDefined();
    for (const result of results) expect(result).toBe(digest);
    // The kill came mid fan-out: pulls were still running and finished without the scheduler.
    expect(doneAfterKill).toBeGreaterThan(0);
    expect(origin).toBeLessThanOrEqual(2 * SIZE);
  });
});
