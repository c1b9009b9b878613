import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  freePort,
  pushRandomImage,
  startCountingProxy,
  startRegistry,
  waitFor,
  type CountingProxy,
  type PushedTestImage,
  type Registry,
} from '@flotilla/test';
import { linesWith, pullBlob, startSchedulerProcess, startSwarmDaemon, type SchedulerProcess, type SwarmDaemon } from './p2p-dht-support.ts';

// Issue 4: two schedulers share the blobs by rendezvous hashing of their digests. One is killed mid-run: its tasks
// move to the other and every pull finishes. Restarted, it learns who holds what from the daemons' reports and
// hands blobs out without any origin traffic. Real processes on loopback, the origin behind a counting proxy.

const MiB = 1024 * 1024;
const REPO = 'app/schedulers';
const LAYERS = 12;
const UPLOAD_RATE = '8MB';
/** Two cores, eight processes: the default deadlines would read slowness as failure (see p2p-schedulers-kill). */
const PATIENT = ['--piece-timeout', '5s', '--scheduler-timeout', '5s'];

let dir: string;
let registry: Registry;
let proxy: CountingProxy;
let image: PushedTestImage;
let s1: SchedulerProcess;
let s2: SchedulerProcess;
let s1Port: number;
let s1Args: string[];
let daemons: SwarmDaemon[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flotilla-schedulers-'));
  registry = await startRegistry();
  proxy = await startCountingProxy(registry.host);
  image = await pushRandomImage(registry, REPO, 'v1', { layerSizes: Array.from({ length: LAYERS }, () => 2 * MiB) });
  s2 = await startSchedulerProcess(join(dir, 's2'), proxy.host, ['--upload-rate', UPLOAD_RATE]);
  // S1 trusts S2's signatures: when S2 seeds S1's blobs while S1 is down, S1 can take them over from the holders.
  s1Port = await freePort();
  s1Args = ['--upload-rate', UPLOAD_RATE, '--trust-scheduler', s2.peerId];
  s1 = await startSchedulerProcess(join(dir, 's1'), proxy.host, s1Args, s1Port);
  daemons = await Promise.all(Array.from({ length: 4 }, () => startDaemon()));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(daemons.map((d) => d.stop()));
  await Promise.allSettled([s1?.service.stop(), s2?.service.stop()]);
  await proxy?.close();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function startDaemon(): Promise<SwarmDaemon> {
  const daemon = await startSwarmDaemon(proxy.host, ['--scheduler', s1.address, '--scheduler', s2.address, '--upload-rate', UPLOAD_RATE, ...PATIENT]);
  await waitFor(() => linesWith(daemon, 'registered with the scheduler').length >= 2, 10_000);
  return daemon;
}

/** Digests a scheduler answered a task for (it logs each assignment). */
function assigned(scheduler: SchedulerProcess): Set<string> {
  return new Set(scheduler.logs().filter((l) => l.msg === 'task assigned').map((l) => String(l['digest'])));
}

const layerBytes = () => image.layers.reduce((n, l) => n + proxy.blobBytes(l.digest), 0);

describe('two schedulers', () => {
  test('each blob goes to one of them; one killed mid-run: its tasks move to the other and every pull finishes', async () => {
    const perLayer = daemons.length * 2 * MiB;
    const delivered = new Map<string, number>();
    let killed: Promise<void> | undefined;
    let ownedByS1 = new Set<string>();
    let ownedByS2 = new Set<string>();
    let lastLook = 0;
    // Killed when S1's own blobs are a third delivered, so downloads of them are under way (other blobs may be done).
    const maybeKill = (): void => {
      if (killed || performance.now() - lastLook < 50) return;
      lastLook = performance.now();
      const owned = assigned(s1);
      const bytes = [...owned].reduce((n, d) => n + (delivered.get(d) ?? 0), 0);
      if (owned.size === 0 || bytes < (owned.size * perLayer) / 3) return;
      [ownedByS1, ownedByS2] = [owned, assigned(s2)];
      killed = s1.service.kill();
    };
    const pulls = await Promise.all(
      daemons.flatMap((daemon) =>
        image.layers.map(async (layer) => {
          const pull = await pullBlob(daemon, REPO, layer.digest, (n) => {
            delivered.set(layer.digest, (delivered.get(layer.digest) ?? 0) + n);
            maybeKill();
          });
          return { layer: layer.digest, got: pull.digest };
        }),
      ),
    );
    await killed;
    for (const { layer, got } of pulls) expect(got).toBe(layer);

    // Rendezvous hashing split the blobs: every daemon sent a blob's task to the same scheduler.
    expect(ownedByS1.size).toBeGreaterThan(0);
    expect(ownedByS2.size).toBeGreaterThan(0);
    expect([...ownedByS1].filter((d) => ownedByS2.has(d))).toEqual([]);
    // Downloads under way on S1 moved to S2, which took their tasks over (a download that had just finished
    // moves with its last report too, but does not ask S2 for the task).
    const moved = daemons.flatMap((d) => linesWith(d, 'task moved to another scheduler'));
    console.log(
      `two schedulers: S1 had ${ownedByS1.size} blobs when killed, ${moved.length} downloads moved to S2;` +
        ` origin served ${(layerBytes() / (LAYERS * 2 * MiB)).toFixed(2)}x the layers`,
    );
    expect(moved.length).toBeGreaterThan(0);
    for (const line of moved) {
      expect(line['to']).toBe(s2.address);
      expect(ownedByS1.has(String(line['digest']))).toBe(true);
    }
    const takenOver = assigned(s2);
    expect(moved.some((line) => takenOver.has(String(line['digest'])))).toBe(true);
  });

  test('the killed scheduler, restarted, learns who holds what from the daemons and serves a new daemon without origin traffic', async () => {
    s1 = await startSchedulerProcess(join(dir, 's1'), proxy.host, s1Args, s1Port);
    await waitFor(() => s1.logs().filter((l) => l.msg === 'holdings reported').length >= daemons.length, 15_000);
    const recorded = s1.logs().filter((l) => l.msg === 'holdings reported').map((l) => Number(l['recorded']));
    expect(Math.min(...recorded)).toBeGreaterThan(0);

    const originBefore = layerBytes();
    const newcomer = await startDaemon();
    daemons.push(newcomer);
    for (const layer of image.layers) expect((await pullBlob(newcomer, REPO, layer.digest)).digest).toBe(layer.digest);
    expect(layerBytes()).toBe(originBefore);
    // The restarted S1 answered for its blobs (from its store or from the holders' signed meta), not S2.
    expect(linesWith(newcomer, 'task moved to another scheduler')).toHaveLength(0);
    expect(s1.logs().some((l) => l.msg === 'task assigned' && l['peer'] === newcomer.peerId)).toBe(true);
  });
});
