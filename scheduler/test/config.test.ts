import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ConfigError } from '@flotilla/config';
import { describe, expect, it } from 'vitest';
import { loadSchedulerConfig } from '../src/config.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

describe('scheduler config', () => {
  it('has the documented defaults', () => {
    const config = loadSchedulerConfig([], { HOME: '/home/u' });
    expect(config).toMatchObject({
      p2pListen: '/ip4/0.0.0.0/tcp/65003',
      httpListen: { host: '127.0.0.1', port: 65004 },
      dataDir: '/home/u/.local/share/flotilla-scheduler',
      parents: 4,
      parentPolicy: 'seed-group',
      seedGroupSize: 16,
      uploadSlots: 200,
      uploadQueueMs: 1_000,
      uploadRate: 0,
      downloadRate: 0,
      hostTtlMs: 30_000,
      insecureRegistries: [],
    });
  });

  it('reads flags and rejects a bad multiaddr', () => {
    const config = loadSchedulerConfig(
      ['--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--insecure-registry', '127.0.0.1:5000', '--insecure-registry', 'Reg.Local', '--upload-rate', '20MB', '--host-ttl', '5s'],
      {},
    );
    expect(config).toMatchObject({ p2pListen: '/ip4/127.0.0.1/tcp/0', insecureRegistries: ['127.0.0.1:5000', 'reg.local'], uploadRate: 20e6, hostTtlMs: 5000 });
    expect(() => loadSchedulerConfig(['--p2p-listen', '127.0.0.1:65003'], {})).toThrow(ConfigError);
    expect(() => loadSchedulerConfig(['--p2p-listen', '/ip9/x'], {})).toThrow(/--p2p-listen/);
  });

  it('README options table matches the scheduler schema', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [`${REPO}packages/cli/src/print-options-table.ts`, 'scheduler']);
    expect(stdout).toMatch(/^\| Option \| Env var \| Default \| Description \|\n/);
    const readme = await readFile(`${REPO}README.md`, 'utf8');
    expect(readme, 'regenerate with: npx node packages/cli/src/print-options-table.ts scheduler').toContain(stdout);
  });
});
