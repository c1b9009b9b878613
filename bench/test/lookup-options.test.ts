import { describe, expect, test } from 'vitest';
import { ConfigError } from '@flotilla/config';
import { loadLookupOptions } from '../src/lookup/options.ts';

describe('bench lookup options', () => {
  test('defaults: 20 daemons, 5 rounds, 256 KiB blobs, a 2 s lookup deadline, a timestamped out dir', () => {
    const options = loadLookupOptions([], {}, new Date('2026-01-02T03:04:05Z'));
    expect(options).toMatchObject({ daemons: 20, rounds: 5, blobSize: 256 * 1024, lookupTimeoutMs: 2_000 });
    expect(options.outDir).toMatch(/lookup-20260102-030405$/);
  });

  test('flags and FLOTILLA_* env are read', () => {
    const options = loadLookupOptions(['--daemons', '8', '--lookup-timeout', '500ms', '--out', '/tmp/x'], { FLOTILLA_ROUNDS: '3' });
    expect(options).toMatchObject({ daemons: 8, rounds: 3, lookupTimeoutMs: 500, outDir: '/tmp/x' });
  });

  test.each([
    [['--daemons', '2'], '--daemons'],
    [['--rounds', 'many'], '--rounds'],
    [['--blob-size', '1B'], '--blob-size'],
    [['--lookup-timeout', 'soon'], '--lookup-timeout'],
  ])('%j is refused naming the flag', (argv, flag) => {
    expect(() => loadLookupOptions(argv, {})).toThrow(ConfigError);
    expect(() => loadLookupOptions(argv, {})).toThrow(flag);
  });
});
