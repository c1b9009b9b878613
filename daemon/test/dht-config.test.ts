import { ConfigError } from '@flotilla/config';
import { describe, expect, it } from 'vitest';
import { loadDaemonConfig, p2pEnabled } from '../src/config.ts';

const PEER = '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN';

describe('daemon DHT options', () => {
  it('--bootstrap is repeatable, takes HOST:PORT or a multiaddr and turns P2P on', () => {
    const config = loadDaemonConfig(['--bootstrap', 'peers.flotilla.svc:65002', '--bootstrap', `/ip4/10.0.0.2/tcp/65002/p2p/${PEER}`], {});
    expect(config.bootstrap).toEqual(['/dns/peers.flotilla.svc/tcp/65002', `/ip4/10.0.0.2/tcp/65002/p2p/${PEER}`]);
    expect(p2pEnabled(config)).toBe(true);
  });

  it('reads the lookup deadline, the re-provide interval and trusted scheduler keys', () => {
    const config = loadDaemonConfig(['--dht-lookup-timeout', '50ms', '--reprovide-interval', '5m', '--trust-scheduler', PEER], {});
    expect(config).toMatchObject({ dhtLookupTimeoutMs: 50, reprovideIntervalMs: 300_000, trustedSchedulers: [PEER] });
    expect(loadDaemonConfig([], {}).dhtLookupTimeoutMs).toBe(100);
  });

  it('rejects a trusted scheduler that is not a peer id', () => {
    expect(() => loadDaemonConfig(['--trust-scheduler', 'sched.local:7000'], {})).toThrow(ConfigError);
  });
});
