import { describe, expect, it } from 'vitest';
import { defineOptions, describeOptions, duration, listOption, option, renderHelp, string, switchOption } from '../src/index.ts';

const schema = defineOptions({
  timeoutMs: option({ flag: 'timeout', parser: duration(), default: 90_000, doc: 'how long to wait' }),
  names: listOption({ flag: 'name', parser: string({ metavar: 'NAME' }), doc: 'a name' }),
  dry: switchOption({ flag: 'dry-run', doc: 'change nothing' }),
});

describe('help', () => {
  it('describes every option with its env var and formatted default, plus --config', () => {
    expect(describeOptions(schema)).toEqual([
      { usage: '--timeout DURATION', key: 'timeout', env: 'FLOTILLA_TIMEOUT', default: '90s', doc: 'how long to wait', repeatable: false, fileOnly: false },
      { usage: '--name NAME', key: 'name', env: 'FLOTILLA_NAME', default: undefined, doc: 'a name', repeatable: true, fileOnly: false },
      { usage: '--dry-run, --no-dry-run', key: 'dry-run', env: 'FLOTILLA_DRY_RUN', default: 'false', doc: 'change nothing', repeatable: false, fileOnly: false },
      expect.objectContaining({ usage: '--config FILE', env: 'FLOTILLA_CONFIG' }),
    ]);
  });

  it('renders usage, summary and each option', () => {
    const text = renderHelp({ usage: 'tool run [options]', summary: 'Runs.', options: schema });
    expect(text).toMatch(/^Usage: tool run \[options\]\n\nRuns\.\n/);
    expect(text).toContain('  --timeout DURATION\n      how long to wait\n      env FLOTILLA_TIMEOUT; default 90s\n');
    expect(text).toContain('  --name NAME\n      a name\n      repeatable; env FLOTILLA_NAME (comma-separated)\n');
    expect(text).toContain('  --help\n');
  });
});
