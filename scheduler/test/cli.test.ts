import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startService, stopAllServices } from '@flotilla/test';
import { afterAll, expect, it } from 'vitest';

const CLI_MAIN = fileURLToPath(new URL('../../packages/cli/src/main.ts', import.meta.url));
let dataDir: string | undefined;

afterAll(async () => {
  await stopAllServices();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

it('`flotilla scheduler` logs where it listens, answers /healthz and exits 0 on SIGTERM', async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flotilla-scheduler-cli-'));
  const args = [CLI_MAIN, 'scheduler', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--http-listen', '127.0.0.1:0', '--data-dir', dataDir];
  const { service, match } = await startService(process.execPath, args, { ready: /^.*"msg":"scheduler listening".*$/m });
  const line = JSON.parse(match![0]) as { peerId: string; addresses: string[]; http: string };
  expect(line.addresses).toEqual([expect.stringMatching(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${line.peerId}$`))]);
  expect(line.http).toMatch(/^127\.0\.0\.1:\d+$/);
  const health = await fetch(`http://${line.http}/healthz`);
  expect(health.status).toBe(200);

  const exited = new Promise<number | null>((resolve) => service.child.once('exit', (code) => resolve(code)));
  await service.stop();
  expect(await exited).toBe(0);
  expect(service.output()).toContain('"msg":"scheduler stopped"');
});
