import { describe, expect, it } from 'vitest';
import { loadDaemonConfig, p2pEnabled } from '../src/config.ts';
import { configErrorOf } from './config-support.ts';

describe('daemon P2P options', () => {
  it('is off unless a scheduler or a P2P listen address is given', () => {
    expect(p2pEnabled(loadDaemonConfig([], {}))).toBe(false);
    expect(p2pEnabled(loadDaemonConfig(['--scheduler', '127.0.0.1:7000'], {}))).toBe(true);
    expect(p2pEnabled(loadDaemonConfig(['--p2p-listen', '/ip4/127.0.0.1/tcp/0'], {}))).toBe(true);
  });

  it('turns HOST:PORT scheduler addresses into TCP multiaddrs and keeps multiaddrs', () => {
    const config = loadDaemonConfig(
      [
        '--scheduler', '127.0.0.1:7000',
        '--scheduler', 'sched.local:7001',
        '--scheduler', '[::1]:7002',
        '--scheduler', '/ip4/10.0.0.1/tcp/7003/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN',
      ],
      {},
    );
    expect(config.schedulers).toEqual([
      '/ip4/127.0.0.1/tcp/7000',
      '/dns/sched.local/tcp/7001',
      '/ip6/::1/tcp/7002',
      '/ip4/10.0.0.1/tcp/7003/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN',
    ]);
  });

  it('parses sizes, rates and durations', () => {
    const config = loadDaemonConfig(
      ['--upload-rate', '20MB', '--download-rate', '1MiB', '--piece-timeout', '500ms', '--scheduler-timeout', '2s', '--zone', 'rack-1'],
      {},
    );
    expect(config).toMatchObject({
      uploadRate: 20_000_000,
      downloadRate: 1_048_576,
      pieceTimeoutMs: 500,
      schedulerTimeoutMs: 2_000,
      zone: 'rack-1',
    });
  });

  it('rejects malformed addresses and out-of-range counts', () => {
    expect(configErrorOf(['--p2p-listen', '127.0.0.1:7000'])).toMatch(/^invalid value for --p2p-listen: "127.0.0.1:7000" \(expected a multiaddr/);
    expect(configErrorOf(['--p2p-listen', '/ip4/nope/tcp/1'])).toMatch(/^invalid value for --p2p-listen/);
    expect(configErrorOf(['--scheduler', 'sched'])).toMatch(/^invalid value for --scheduler: "sched"/);
    expect(configErrorOf(['--pieces-in-flight', '0'])).toMatch(/^invalid value for --pieces-in-flight/);
    expect(configErrorOf(['--upload-slots', '-1'])).toMatch(/^invalid value for --upload-slots/);
  });
});
