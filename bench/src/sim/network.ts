/*
 * A fluid network: every node has an uplink and a downlink capacity (bytes/s), every transfer is a flow from one
 * node's uplink to another's downlink, and time advances in fixed steps. Each step the capacities are shared
 * max-min fairly, approximately, in two rounds: each downlink offers an equal share to its flows, each uplink
 * water-fills against those offers; then each downlink water-fills again, giving what sender-limited flows leave
 * to the others, and each uplink water-fills against that. No link is ever over its capacity; the result is close
 * to what many TCP flows converge to, without packets, queues or slow start.
 */

/** Called when a flow's last byte arrived, with the exact (sub-step) time in ms. */
export type FlowDone = (atMs: number) => void;

export class FluidNetwork {
  readonly upCapacity: Float64Array;
  readonly downCapacity: Float64Array;
  /** Bytes each node has sent and received so far, flows in progress included. */
  readonly sent: Float64Array;
  readonly received: Float64Array;
  // Flows, struct-of-arrays by flow id (ids are reused once a flow is done).
  #src = new Int32Array(1024);
  #dst = new Int32Array(1024);
  #upPos = new Int32Array(1024);
  #downPos = new Int32Array(1024);
  #left = new Float64Array(1024);
  #rate = new Float64Array(1024);
  #offer = new Float64Array(1024);
  readonly #done: (FlowDone | undefined)[] = [];
  readonly #free: number[] = [];
  #ids = 0;
  readonly #up: number[][];
  readonly #down: number[][];
  #scratch = new Float64Array(1024);
  #active = 0;

  constructor(capacities: readonly { up: number; down: number }[]) {
    const n = capacities.length;
    this.upCapacity = Float64Array.from(capacities, (c) => c.up);
    this.downCapacity = Float64Array.from(capacities, (c) => c.down);
    this.sent = new Float64Array(n);
    this.received = new Float64Array(n);
    this.#up = Array.from({ length: n }, () => []);
    this.#down = Array.from({ length: n }, () => []);
  }

  /** Flows currently moving bytes. */
  get activeFlows(): number {
    return this.#active;
  }

  /** Flows the node is sending right now. */
  sending(node: number): number {
    return this.#up[node]!.length;
  }

  /** Starts moving `bytes` from src to dst; `done` runs at the end of the step its last byte arrives in. Returns its id. */
  start(src: number, dst: number, bytes: number, done: FlowDone): number {
    const id = this.#free.pop() ?? this.#ids++;
    if (id >= this.#src.length) this.#grow();
    const up = this.#up[src]!;
    const down = this.#down[dst]!;
    this.#src[id] = src;
    this.#dst[id] = dst;
    this.#left[id] = bytes;
    this.#rate[id] = 0;
    this.#upPos[id] = up.length;
    this.#downPos[id] = down.length;
    this.#done[id] = done;
    up.push(id);
    down.push(id);
    this.#active++;
    return id;
  }

  /** Bytes a flow still has to move (0 once it is done and its id may be reused). */
  bytesLeft(id: number): number {
    return this.#done[id] ? this.#left[id]! : 0;
  }

  /** Advances every flow by `dtMs` from `nowMs`, then calls `done` of the flows that finished, earliest first. */
  step(nowMs: number, dtMs: number): void {
    this.#allocate();
    const dt = dtMs / 1000;
    const finished: { at: number; id: number; done: FlowDone }[] = [];
    const left = this.#left;
    const rate = this.#rate;
    for (let id = 0; id < this.#ids; id++) {
      const done = this.#done[id];
      if (!done || rate[id]! <= 0) continue;
      const moved = Math.min(left[id]!, rate[id]! * dt);
      this.sent[this.#src[id]!]! += moved;
      this.received[this.#dst[id]!]! += moved;
      left[id]! -= moved;
      // Within a millionth of a byte counts as done: float residue must not cost a whole extra step.
      if (left[id]! <= 1e-6) finished.push({ at: nowMs + ((moved + left[id]!) / rate[id]!) * 1000, id, done });
    }
    for (const { id } of finished) this.#remove(id);
    finished.sort((a, b) => a.at - b.at || a.id - b.id);
    for (const { at, done } of finished) done(Math.min(at, nowMs + dtMs));
  }

  #remove(id: number): void {
    this.#swapRemove(this.#up[this.#src[id]!]!, this.#upPos[id]!, this.#upPos);
    this.#swapRemove(this.#down[this.#dst[id]!]!, this.#downPos[id]!, this.#downPos);
    this.#done[id] = undefined;
    this.#free.push(id);
    this.#active--;
  }

  #swapRemove(list: number[], pos: number, positions: Int32Array): void {
    const last = list.pop()!;
    if (pos < list.length) {
      list[pos] = last;
      positions[last] = pos;
    }
  }

  #allocate(): void {
    const offer = this.#offer;
    const rate = this.#rate;
    for (let node = 0; node < this.#down.length; node++) {
      const down = this.#down[node]!;
      const share = this.downCapacity[node]! / down.length;
      for (const id of down) offer[id] = share;
    }
    for (let node = 0; node < this.#up.length; node++) this.#waterfill(this.upCapacity[node]!, this.#up[node]!, offer, rate);
    for (let node = 0; node < this.#down.length; node++) {
      // Flows their sender held below the offer keep that rate; the rest share what is left of the downlink.
      const down = this.#down[node]!;
      for (const id of down) offer[id] = rate[id]! < offer[id]! * (1 - 1e-9) ? rate[id]! : Number.POSITIVE_INFINITY;
      this.#waterfill(this.downCapacity[node]!, down, offer, offer);
    }
    for (let node = 0; node < this.#up.length; node++) this.#waterfill(this.upCapacity[node]!, this.#up[node]!, offer, rate);
  }

  /**
   * Max-min share of `capacity` among `ids`, each wanting at most its `demand`, written to `out`: every flow gets
   * min(demand, level), the level found by walking the demands in ascending order.
   */
  #waterfill(capacity: number, ids: number[], demand: Float64Array, out: Float64Array): void {
    const m = ids.length;
    if (m === 0) return;
    let total = 0;
    for (const id of ids) total += demand[id]!;
    let level = Number.POSITIVE_INFINITY;
    if (total > capacity) {
      if (m > this.#scratch.length) this.#scratch = new Float64Array(m * 2);
      const sorted = this.#scratch.subarray(0, m);
      for (let i = 0; i < m; i++) sorted[i] = demand[ids[i]!]!;
      sorted.sort();
      let remaining = capacity;
      for (let i = 0; i < m; i++) {
        const share = remaining / (m - i);
        if (sorted[i]! > share) {
          level = share;
          break;
        }
        remaining -= sorted[i]!;
      }
    }
    for (const id of ids) out[id] = Math.min(demand[id]!, level);
  }

  #grow(): void {
    const size = this.#src.length * 2;
    const grown = <T extends Int32Array | Float64Array>(old: T): T => {
      const next = new (old.constructor as new (n: number) => T)(size);
      next.set(old);
      return next;
    };
    this.#src = grown(this.#src);
    this.#dst = grown(this.#dst);
    this.#upPos = grown(this.#upPos);
    this.#downPos = grown(this.#downPos);
    this.#left = grown(this.#left);
    this.#rate = grown(this.#rate);
    this.#offer = grown(this.#offer);
  }
}
