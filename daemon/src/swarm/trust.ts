import { verifyTaskMeta, type SignedTaskMeta } from '@flotilla/wire';
import { multiaddr } from '@multiformats/multiaddr';

/**
 * The scheduler keys whose signed task meta this daemon accepts from other daemons: --trust-scheduler, the peer
 * ids in configured scheduler addresses, and the ids the configured schedulers turned out to have on connect.
 */
export class TrustedSchedulers {
  readonly #configured: Set<string>;
  readonly #connected: () => Iterable<string | undefined>;

  /** `connected`: the peer ids the configured schedulers answered with (learnt on connect). */
  constructor(options: { trusted: readonly string[]; schedulerAddresses: readonly string[]; connected: () => Iterable<string | undefined> }) {
    this.#configured = new Set(options.trusted);
    for (const address of options.schedulerAddresses) {
      const peer = multiaddr(address).getComponents().find((c) => c.name === 'p2p')?.value;
      if (peer !== undefined) this.#configured.add(peer);
    }
    this.#connected = options.connected;
  }

  has(peerId: string): boolean {
    if (this.#configured.has(peerId)) return true;
    for (const id of this.#connected()) if (id === peerId) return true;
    return false;
  }

  /** Why signed meta is not acceptable, or undefined when it is (a trusted signer whose signature holds). */
  async reject(signed: SignedTaskMeta): Promise<string | undefined> {
    if (!this.has(signed.signature.signer)) return `signer ${signed.signature.signer} is not a trusted scheduler`;
    if (!(await verifyTaskMeta(signed.meta, signed.signature))) return 'the signature does not match the meta';
    return undefined;
  }
}
