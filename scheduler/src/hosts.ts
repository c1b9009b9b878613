/** A daemon known to the scheduler, as it registered. */
export interface Host {
  peerId: string;
  /** Multiaddrs other daemons dial it on. */
  addresses: string[];
  zone: string | undefined;
  /** Concurrent piece uploads it accepts. */
  uploadSlots: number;
  registeredAt: number;
  /** ms epoch of its last call of any kind. */
  lastSeen: number;
}

export interface HostRegistration {
  addresses: string[];
  zone?: string;
  uploadSlots: number;
}

/**
 * Registered hosts. A host that makes no call for `ttlMs` is dead: it is no longer handed out as a parent and is
 * dropped by expire(). Any call (not only register) keeps it alive; a daemon re-registers after it was dropped.
 */
export class HostRegistry {
  readonly #ttlMs: number;
  readonly #hosts = new Map<string, Host>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  register(peerId: string, registration: HostRegistration, now: number): Host {
    const host: Host = {
      peerId,
      addresses: [...registration.addresses],
      zone: registration.zone,
      uploadSlots: registration.uploadSlots,
      registeredAt: this.#hosts.get(peerId)?.registeredAt ?? now,
      lastSeen: now,
    };
    this.#hosts.set(peerId, host);
    return host;
  }

  /** Marks a call from the peer; false when the peer is not (or no longer) registered. */
  touch(peerId: string, now: number): boolean {
    const host = this.#hosts.get(peerId);
    if (host) host.lastSeen = now;
    return host !== undefined;
  }

  /**
   * Fills in the addresses of a host that registered implicitly (it called before identify told us where it
   * listens); a host that registered itself keeps the addresses it gave.
   */
  learnAddresses(peerId: string, addresses: string[]): void {
    const host = this.#hosts.get(peerId);
    if (host && host.addresses.length === 0) host.addresses = [...addresses];
  }

  get(peerId: string): Host | undefined {
    return this.#hosts.get(peerId);
  }

  isAlive(peerId: string, now: number): boolean {
    const host = this.#hosts.get(peerId);
    return host !== undefined && now - host.lastSeen <= this.#ttlMs;
  }

  remove(peerId: string): boolean {
    return this.#hosts.delete(peerId);
  }

  /** Drops hosts silent for longer than the TTL and returns their peer ids. */
  expire(now: number): string[] {
    const expired: string[] = [];
    for (const [peerId, host] of this.#hosts) {
      if (now - host.lastSeen > this.#ttlMs) {
        this.#hosts.delete(peerId);
        expired.push(peerId);
      }
    }
    return expired;
  }

  list(): Host[] {
    return [...this.#hosts.values()];
  }
}
