/** Where one blob's bytes came from: the seed (the scheduler), other daemons, or the origin. */
export class TransferStats {
  readonly #started = performance.now();
  readonly #byParent = new Map<string, number>();
  #fromSeed = 0;
  #fromPeers = 0;
  #fromOrigin = 0;

  /** `parent` undefined = the origin. */
  add(parent: { peerId: string; isSeed: boolean } | undefined, chunks: readonly Uint8Array[]): void {
    let bytes = 0;
    for (const chunk of chunks) bytes += chunk.byteLength;
    if (parent === undefined) this.#fromOrigin += bytes;
    else {
      if (parent.isSeed) this.#fromSeed += bytes;
      else this.#fromPeers += bytes;
      this.#byParent.set(parent.peerId, (this.#byParent.get(parent.peerId) ?? 0) + bytes);
    }
  }

  /** The fields of the per-blob log line. */
  summary(): {
    bytes: number;
    duration_ms: number;
    bytes_from_seed: number;
    bytes_from_peers: number;
    bytes_from_origin: number;
    parents: Record<string, number>;
  } {
    return {
      bytes: this.#fromSeed + this.#fromPeers + this.#fromOrigin,
      duration_ms: Math.round(performance.now() - this.#started),
      bytes_from_seed: this.#fromSeed,
      bytes_from_peers: this.#fromPeers,
      bytes_from_origin: this.#fromOrigin,
      parents: Object.fromEntries(this.#byParent),
    };
  }
}
