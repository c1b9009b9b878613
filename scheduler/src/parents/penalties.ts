/** Penalty points that halve every HALF_LIFE_MS: a peer that failed a minute ago counts far less than one that just did. */
const HALF_LIFE_MS = 30_000;
/** Below this a record is forgotten. */
const NEGLIGIBLE = 0.01;

/** What counts against a parent: a failed or corrupt piece, or one that arrived far too slowly. */
export const PENALTY = { failure: 1, slow: 0.5 } as const;

/** Decaying per-peer penalty, fed by children's failure reports and read by the parent policy. */
export class PenaltyBox {
  readonly #records = new Map<string, { points: number; at: number }>();

  add(peerId: string, points: number, now: number): void {
    this.#records.set(peerId, { points: this.get(peerId, now) + points, at: now });
  }

  get(peerId: string, now: number): number {
    const record = this.#records.get(peerId);
    if (!record) return 0;
    const points = record.points * 0.5 ** (Math.max(0, now - record.at) / HALF_LIFE_MS);
    if (points < NEGLIGIBLE) this.#records.delete(peerId);
    return points < NEGLIGIBLE ? 0 : points;
  }

  forget(peerId: string): void {
    this.#records.delete(peerId);
  }
}
