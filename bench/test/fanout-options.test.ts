import { ConfigError } from '@flotilla/config';
import { describe, expect, test } from 'vitest';
import { loadFanoutOptions } from '../src/fanout/options.ts';

const NOW = new Date('2025-01-02T03:04:05.678Z');
const load = (...argv: string[]) => loadFanoutOptions(argv, {}, NOW);
const error = (...argv: string[]) => {
  try {
    load(...argv);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
};

describe('fanout flags', () => {
  test('defaults: 10 nodes, one 256 MiB layer, 20·10⁶ B/s, direct,central,p2p, a timestamped out dir', () => {
    const options = load();
    expect(options).toMatchObject({ nodes: 10, layerSizes: [256 * 2 ** 20], linkRate: 20_000_000, modes: ['direct', 'central', 'p2p'], repeat: 1 });
    expect(options.outDir).toMatch(/bench\/out\/fanout-20250102-030405$/);
  });

  test('sizes, rates and lists parse as the issue writes them', () => {
    const options = load('--nodes', '4', '--layers', '200MiB, 56MiB', '--link-rate', '5MB', '--modes', 'p2p,direct', '--out', '/tmp/x', '--repeat', '3');
    expect(options).toMatchObject({ nodes: 4, layerSizes: [200 * 2 ** 20, 56 * 2 ** 20], linkRate: 5_000_000, modes: ['p2p', 'direct'], outDir: '/tmp/x', repeat: 3 });
    expect(load('--image-size', '1GiB').layerSizes).toEqual([2 ** 30]);
  });

  test('bad values name the flag', () => {
    expect(error('--nodes', '0')).toContain('--nodes');
    expect(error('--link-rate', 'fast')).toContain('--link-rate');
    expect(error('--layers', '1MiB,')).toContain('--layers');
    expect(error('--modes', 'direct,torrent')).toContain('--modes');
    expect(error('--modes', 'p2p,p2p')).toContain('each once');
    expect(error('--image-size', '1MiB', '--layers', '1MiB')).toContain('not both');
    expect(error('--image-size', '3GiB')).toContain('--layers');
  });

  test('p2p-dht, --client containerd, --link netns with latency and loss are accepted', () => {
    const options = load('--modes', 'direct,p2p-dht', '--client', 'containerd', '--link', 'netns', '--latency', '10ms', '--loss', '0.5%');
    expect(options).toMatchObject({ modes: ['direct', 'p2p-dht'], client: 'containerd', link: 'netns', latencyMs: 10, lossPercent: 0.5 });
    expect(load('--link', 'netns', '--loss', '2').lossPercent).toBe(2);
    expect(load()).toMatchObject({ client: 'daemon', link: 'ratelimit' });
    expect(load()).not.toHaveProperty('latencyMs');
  });

  test('bad client, link, latency and loss values name the flag', () => {
    expect(error('--client', 'docker')).toContain('--client');
    expect(error('--link', 'tc')).toContain('--link');
    expect(error('--link', 'netns', '--latency', 'soon')).toContain('--latency');
    expect(error('--link', 'netns', '--loss', '101%')).toContain('--loss');
    expect(error('--link', 'netns', '--loss', '-1')).toContain('--loss');
    expect(error('--client', 'containerd', '--nodes', '51')).toMatch(/--nodes 51 with --client containerd: at most 50/);
  });

  test('latency and loss without --link netns are refused: token buckets cannot delay or drop', () => {
    expect(error('--latency', '10ms')).toMatch(/--latency needs --link netns/);
    expect(error('--link', 'ratelimit', '--loss', '1%')).toMatch(/--loss needs --link netns/);
  });

  test('--kill-scheduler-at takes a percentage of all the bytes; a bad one names the flag', () => {
    expect(loadFanoutOptions(['--kill-scheduler-at', '33%'], {}).killSchedulerAtPercent).toBe(33);
    expect(loadFanoutOptions([], {}).killSchedulerAtPercent).toBeUndefined();
    expect(error('--kill-scheduler-at', 'a third')).toMatch(/--kill-scheduler-at/);
  });
});
