import { ConfigError } from '@flotilla/config';
import { expect } from 'vitest';
import { loadDaemonConfig } from '../src/config.ts';

/** The message of the ConfigError a daemon config is refused with; fails the test when it is accepted. */
export function configErrorOf(argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    loadDaemonConfig(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${argv.join(' ')}`);
}
