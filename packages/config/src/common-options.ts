import { homedir } from 'node:os';
import { join } from 'node:path';
import { option, optionalOption, type Env } from './options.ts';
import { duration, enumOf, string } from './parsers.ts';

/** Knobs every long-running component has, defined once so their flags, defaults and docs cannot drift apart. */

/** `$XDG_DATA_HOME/<name>` (only when absolute, as the XDG spec says) or `~/.local/share/<name>`. */
export function xdgDataDir(name: string): (env: Env) => string {
  return (env) => {
    const xdg = env.XDG_DATA_HOME;
    if (xdg?.startsWith('/')) return join(xdg, name);
    return join(env.HOME || homedir(), '.local', 'share', name);
  };
}

export const logLevelOption = option({
  flag: 'log-level',
  parser: enumOf(['trace', 'debug', 'info', 'warn', 'error', 'silent']),
  default: 'info',
  doc: 'least severe log level written to stdout',
});

export const swarmKeyFileOption = optionalOption({
  flag: 'swarm-key-file',
  parser: string({ metavar: 'FILE' }),
  doc: 'private-network key (libp2p pnet): only peers with the same key can connect',
});

/** Deadlines toward origin registries: clients have none of their own, so the component must. */
export const originTimeoutOptions = {
  originConnectTimeoutMs: option({
    flag: 'origin-connect-timeout',
    parser: duration({ min: 1 }),
    default: 5_000,
    doc: 'give up connecting to an origin registry after this long',
  }),
  originFirstByteTimeoutMs: option({
    flag: 'origin-first-byte-timeout',
    parser: duration({ min: 1 }),
    default: 15_000,
    doc: 'give up on an origin request whose response headers take longer than this',
  }),
  originIdleTimeoutMs: option({
    flag: 'origin-idle-timeout',
    parser: duration({ min: 1 }),
    default: 15_000,
    doc: 'abort an origin response body that stalls this long',
  }),
};
