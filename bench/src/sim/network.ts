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

interface Flow {
  src: number;
  dst: number;
  left: number;
  rate: number;
  offer: number;
  upPos: number;
  downPos: number;
  done: FlowDone;
}

export class FluidNetwork {
  readonly upCapacity: Float64Array;
  readonly downCapacity: Float64Array;
  /** Bytes each node has sent and received so far, flows in progress included. */
  readonly sent: Float64Array;
  readonly received: Float64Array;
  readonly #flows: (Flow | undefined)[] = [];
  readonly #free: number[] = [];
  readonly #up: number[][];
  readonly #down: number[][];
  /** Scratch for water-filling: the generation a flow was fixed in. */
  #fixed = new Uint32Array(1024);
  #generation = 0;
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
    const id = this.#free.pop() ?? this.#flows.length;
    const up = this.#up[src]!;
    const down = this.#down[dst]!;
    this.#flows[id] = { src, dst, left: bytes, rate: 0, offer: 0, upPos: up.length, downPos: down.length, done };
    up.push(id);
    down.push(id);
    this.#active++;
    if (id >= this.#fixed.length) {
      const grown = new Uint32Array(this.#fixed.length * 2);
      grown.set(this.#fixed);
      this.#fixed = grown;
    }
    return id;
  }

  /** Bytes a flow still has to move (0 once it is done and its id may be reused). */
  bytesLeft(id: number): number {
    return this.#flows[id]?.left ?? 0;
  }

  /** Advances every flow by `dtMs` from `nowMs`, then calls `done` of the flows that finished, earliest first. */
  step(nowMs: number, dtMs: number): void {
    this.#allocate();
    const dt = dtMs / 1000;
    const finished: { at: number; id: number; flow: Flow }[] = [];
    for (let id = 0; id < this.#flows.length; id++) {
      const flow = this.#flows[id];
      if (!flow || flow.rate <= 0) continue;
      const moved = Math.min(flow.left, flow.rate * dt);
      this.sent[flow.src]! += moved;
      this.received[flow.dst]! += moved;
      flow.left -= moved;
      // Within a millionth of a byte counts as done: float residue must not cost a whole extra step.
      if (flow.left <= 1e-6) finished.push({ at: nowMs + ((moved + flow.left) / flow.rate) * 1000, id, flow });
    }
    for (const { id, flow } of finished) this.#remove(id, flow);
    finished.sort((a, b) => a.at - b.at || a.id - b.id);
    for (const { at, flow } of finished) flow.done(Math.min(at, nowMs + dtMs));
  }

  #remove(id: number, flow: Flow): void {
    swapRemove(this.#up[flow.src]!, flow.upPos, this.#flows, 'upPos');
    swapRemove(this.#down[flow.dst]!, flow.downPos, this.#flows, 'downPos');
    this.#flows[id] = undefined;
    this.#free.push(id);
    this.#active--;
  }

  #allocate(): void {
    const flows = this.#flows;
    for (let node = 0; node < this.#down.length; node++) {
      const down = this.#down[node]!;
      const share = this.downCapacity[node]! / down.length;
      for (const id of down) flows[id]!.offer = share;
    }
    for (let node = 0; node < this.#up.length; node++) this.#waterfill(this.upCapacity[node]!, this.#up[node]!, 'offer', 'rate');
    for (let node = 0; node < this.#down.length; node++) {
      // Flows their sender held below the offer keep that rate; the rest share what is left of the downlink.
      for (const id of this.#down[node]!) {
        const flow = flows[id]!;
        flow.offer = flow.rate < flow.offer * (1 - 1e-9) ? flow.rate : Infinity;
      }
      this.#waterfill(this.downCapacity[node]!, this.#down[node]!, 'offer', 'offer');
    }
    for (let node = 0; node < this.#up.length; node++) this.#waterfill(this.upCapacity[node]!, this.#up[node]!, 'offer', 'rate');
  }

  /** Max-min share of `capacity` among `ids`, each wanting at most its `demand`; written to `out`. */
  #waterfill(capacity: number, ids: number[], demand: 'offer', out: 'rate' | 'offer'): void {
    if (ids.length === 0) return;
    const flows = this.#flows;
    const generation = ++this.#generation;
    let remaining = capacity;
    let open = ids.length;
    for (;;) {
      const share = remaining / open;
      let fixedAny = false;
      for (const id of ids) {
        if (this.#fixed[id] === generation) continue;
        const flow = flows[id]!;
        const wanted = flow[demand];
        if (wanted <= share) {
          flow[out] = wanted;
          remaining -= wanted;
          open--;
          this.#fixed[id] = generation;
          fixedAny = true;
        }
      }
      if (open === 0) return;
      if (!fixedAny) {
        for (const id of ids) if (this.#fixed[id] !== generation) flows[id]![out] = share;
        return;
      }
    }
  }
}

function swapRemove(list: number[], pos: number, flows: (Flow | undefined)[], key: 'upPos' | 'downPos'): void {
  const last = list.pop()!;
  if (pos < list.length) {
    list[pos] = last;
    flows[last]![key] = pos;
  }
}
