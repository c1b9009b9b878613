import { isIP } from 'node:net';
import { hostPort, InvalidValue, string, type ValueParser } from '@flotilla/config';
import { multiaddr } from '@multiformats/multiaddr';

/** A multiaddr option (`/ip4/10.0.0.1/tcp/65002`), normalized; with `hostPort`, `HOST:PORT` too, turned into its TCP multiaddr. */
export function multiaddrParser(options: { hostPort?: boolean } = {}): ValueParser<string> {
  const form = options.hostPort ? 'HOST:PORT|MULTIADDR' : 'MULTIADDR';
  const expected = options.hostPort
    ? 'HOST:PORT or a multiaddr such as /ip4/10.0.0.1/tcp/65002'
    : 'a multiaddr such as /ip4/0.0.0.0/tcp/65002';
  const tcp = hostPort();
  return {
    metavar: form,
    expected,
    parse(raw) {
      if (raw.startsWith('/')) {
        try {
          return multiaddr(raw).toString();
        } catch {
          throw new InvalidValue(expected);
        }
      }
      if (!options.hostPort) throw new InvalidValue(expected);
      const { host, port } = tcp.parse(raw);
      const protocol = isIP(host) === 4 ? 'ip4' : isIP(host) === 6 ? 'ip6' : 'dns';
      return `/${protocol}/${host}/tcp/${port}`;
    },
    format: (value) => value,
  };
}

/**
 * A base58 libp2p peer id (Ed25519 ids start 12D3KooW), checked by shape only: config stays free of the crypto
 * code that parses keys, which the swarm loads when it uses the id.
 */
export function peerIdParser(): ValueParser<string> {
  return string({ metavar: 'PEERID', check: (value) => /^[1-9A-HJ-NP-Za-km-z]{46,64}$/.test(value), expected: 'a libp2p peer id such as 12D3KooW...' });
}
