import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_BLOB_TRANSPORT } from '@flotilla/origin';
import { describe, expect, it } from 'vitest';
import { blobTransportTuning, loadDaemonConfig } from '../src/config.ts';
import { configErrorOf } from './config-support.ts';

describe('origin client knobs of the daemon config', () => {
  it('default to the origin client defaults', () => {
    expect(blobTransportTuning(loadDaemonConfig([], {}))).toEqual(DEFAULT_BLOB_TRANSPORT);
  });

  it('are set by flags, FLOTILLA_* env vars and YAML keys', () => {
    const fromFlags = loadDaemonConfig(
      ['--origin-keep-alive', '5s', '--origin-idle-connections', '2', '--origin-read-ahead', '16MiB', '--origin-pooled-buffers', '0'],
      {},
    );
    expect(blobTransportTuning(fromFlags)).toEqual({ keepAliveMs: 5_000, idleConnectionsPerOrigin: 2, readAheadBytes: 16 << 20, pooledSlabs: 0 });
    const fromEnv = loadDaemonConfig([], { FLOTILLA_ORIGIN_READ_AHEAD: '1MiB', FLOTILLA_ORIGIN_IDLE_CONNECTIONS: '0' });
    expect([fromEnv.originReadAheadBytes, fromEnv.originIdleConnections]).toEqual([1 << 20, 0]);
    const file = join(mkdtempSync(join(tmpdir(), 'flotilla-origin-config-')), 'daemon.yml');
    writeFileSync(file, 'origin-keep-alive: 90s\norigin-pooled-buffers: 64\n');
    const fromYaml = loadDaemonConfig(['--config', file], {});
    expect([fromYaml.originKeepAliveMs, fromYaml.originPooledBuffers]).toEqual([90_000, 64]);
    const writes = loadDaemonConfig(['--origin-write-batch', '4MiB'], { FLOTILLA_ORIGIN_WRITES_IN_FLIGHT: '8' });
    expect([writes.originWriteBatchBytes, writes.originWritesInFlight]).toEqual([4 << 20, 8]);
  });

  it('name the flag or env var of a bad value', () => {
    expect(configErrorOf(['--origin-read-ahead', '1KiB'])).toMatch(/^invalid value for --origin-read-ahead: "1KiB" /);
    expect(configErrorOf(['--origin-keep-alive', 'forever'])).toMatch(/^invalid value for --origin-keep-alive: "forever" /);
    expect(configErrorOf(['--origin-idle-connections', '-1'])).toMatch(/^invalid value for --origin-idle-connections: "-1" /);
    expect(configErrorOf([], { FLOTILLA_ORIGIN_POOLED_BUFFERS: 'many' })).toMatch(/^invalid value for FLOTILLA_ORIGIN_POOLED_BUFFERS: "many" /);
    expect(configErrorOf(['--origin-writes-in-flight', '0'])).toMatch(/^invalid value for --origin-writes-in-flight: "0" /);
    expect(configErrorOf(['--origin-write-batch', '1B'])).toMatch(/^invalid value for --origin-write-batch: "1B" /);
  });
});
