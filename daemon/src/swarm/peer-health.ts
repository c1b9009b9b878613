/** Why a peer is skipped: it did not answer, or sent bytes that failed the whole-blob check. */
export type PeerFault = 'unreachable' | 'corrupt';

/** How long a fault keeps a peer out of provider lists. */
const SKIP_MS: Record<PeerFault, number> = { unreachable: 30_000, corrupt: 10 * 60_000 };

/**
 * Peers to skip at once, daemon-wide: a provider that failed is not asked again for a while (DHT records outlive
 * the daemons and blobs they point at), one that sent a corrupt blob for much longer.
 */
export class PeerHealth {
  readonly #until = new Map<string, number>();

  fault(peerId: string, fault: PeerFault, now = Date.now()): void {
    this.#until.set(peerId, Math.max(this.#until.get(peerId) ?? 0, now + SKIP_MS[fault]));
  }

  isBad(peerId: string, now = Date.now()): boolean {
    const until = this.#until.get(peerId);
    if (until === undefined) return false;
    if (until > now) return true;
    this.#until.delete(peerId);
    return false;
  }
}
