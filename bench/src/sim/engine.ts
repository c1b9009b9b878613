/*
 * The simulation: N daemons pull every layer of one image at time 0 through K schedulers (each seeding the blobs
 * that rendezvous-hash to it, as daemons route them), on a fluid network with per-link capacities, in fixed time
 * steps. Each step: the actions due (scheduler answers, flows whose request round trip is over, timers), then
 * every download woken since the last step asks for pieces, then the network moves bytes. Deterministic for a
 * given --rng-seed: no wall clock, no Math.random.
 */
import { createHash } from 'node:crypto';
import { choosePieceLength, pieceCountFor } from '@flotilla/wire';
import { DAEMON, Download, type DownloadWorld, type OriginFallback, type ParentLink } from './download.ts';
import { FluidNetwork } from './network.ts';
import { mix, Rng } from './rng.ts';
import { SchedulerModel } from './scheduler-model.ts';
import { SimUploadQueue } from './upload-queue.ts';
import { DEFAULT_SEED_UPLOAD_QUEUE_MS } from '../../../scheduler/src/config.ts';

/** ratelimit's DEFAULT_SENDING: uploads moving bytes at once on a rate-limited link. */
const UPLOADS_SENDING = 4;
import type { SimConfig } from './options.ts';

/** One node's pull, as `bench fanout` reports it (seconds since the common start). */
export interface SimNodeResult {
  firstByteSeconds: number;
  doneSeconds: number;
  bytesFromOrigin: number;
  bytesFromSeed: number;
  bytesFromPeers: number;
}

export interface SimOutcome {
  /** Every node got every layer before the simulated-time limit. */
  ok: boolean;
  error?: string;
  nodes: SimNodeResult[];
  imageBytes: number;
  pieceLengths: number[];
  originEgressBytes: number;
  seedEgressBytes: number;
  /** Bytes every link carried, summed over senders and over receivers: equal when no byte was lost or made up. */
  bytesSent: number;
  bytesReceived: number;
  simulatedSeconds: number;
  steps: number;
  schedulerCpuMs: number;
  schedulerCalls: number;
  /** Wall and process CPU time of the whole simulation. */
  wallSeconds: number;
  cpuSeconds: number;
}

interface Blob {
  digest: string;
  size: number;
  pieceLength: number;
  pieceCount: number;
  scheduler: SchedulerModel;
  seedNode: number;
  /** The seed's origin fetch: its flow while it runs, the pieces on its disk. */
  seedFlow: number | undefined;
  seedStarted: boolean;
  seedReady: number;
  /** seedReady as the seed's watchers last heard it. */
  seedAnnounced: number;
  downloads: Download[];
  /** Downloads with the seed among their parents: its watch tells them each piece (and its digest) as it lands. */
  seedWatchers: Download[];
}

/** Runs a simulation to the end; `progress` gets a line every few wall seconds. */
export function runSimulation(config: SimConfig, progress: (line: string) => void = () => {}): SimOutcome {
  return new Simulation(config, progress).run();
}

class Simulation implements DownloadWorld {
  readonly rng: Rng;
  readonly originFallback: OriginFallback;
  readonly #c: SimConfig;
  readonly #progress: (line: string) => void;
  readonly #net: FluidNetwork;
  readonly #origin: number;
  readonly #schedulers: SchedulerModel[];
  readonly #blobs: Blob[];
  readonly #nodeOf = new Map<string, number>();
  /** Per node (daemons, seeds): its upload queue. */
  readonly #queues: SimUploadQueue[];
  readonly #remaining: Int32Array;
  readonly #doneAt: Float64Array;
  readonly #queue = new Map<number, (() => void)[]>();
  readonly #dirty = new Set<Download>();
  #step = 0;
  #nodesLeft: number;
  #originEgress = 0;

  constructor(config: SimConfig, progress: (line: string) => void) {
    this.#c = config;
    this.#progress = progress;
    this.rng = new Rng(config.rngSeed);
    this.originFallback = config.originFallback;
    const { nodes, seeds } = config;
    this.#origin = nodes + seeds;
    const link = { up: config.linkRate, down: config.linkRate };
    this.#net = new FluidNetwork([
      ...Array.from({ length: nodes }, () => link),
      ...Array.from({ length: seeds }, () => ({ up: config.seedRate, down: config.seedRate })),
      { up: config.originRate, down: config.originRate },
    ]);
    // Daemons upload with --upload-rate at their link rate (as Kraken's agents run with bandwidth limits): a few
    // pieces at a time, busy past --upload-queue-time. Seeds keep the scheduler's default: no --upload-rate, every
    // upload at once (the link shares them).
    this.#queues = Array.from({ length: nodes + seeds }, (_, i) =>
      i < nodes
        ? new SimUploadQueue({ rate: config.linkRate, slots: config.uploadSlots, maxWaitMs: config.uploadQueueMs, sending: UPLOADS_SENDING })
        : new SimUploadQueue({ rate: Number.POSITIVE_INFINITY, slots: config.seedUploadSlots, maxWaitMs: DEFAULT_SEED_UPLOAD_QUEUE_MS, sending: Number.POSITIVE_INFINITY }),
    );
    this.#remaining = new Int32Array(nodes).fill(config.layerSizes.length);
    this.#doneAt = new Float64Array(nodes).fill(Number.NaN);
    this.#nodesLeft = nodes;
    this.#schedulers = Array.from({ length: seeds }, (_, s) => {
      const peerId = `seed-${s}`;
      this.#nodeOf.set(peerId, nodes + s);
      return new SchedulerModel({ peerId, k: config.parents, seedUploadSlots: config.seedUploadSlots, policy: config.policy, seedGroupSize: config.seedGroupSize, rng: this.rng });
    });
    for (let i = 0; i < nodes; i++) this.#nodeOf.set(daemonId(i), i);
    this.#blobs = config.layerSizes.map((size, i) => {
      const digest = `sha256:${createHash('sha256').update(`flotilla-sim-layer-${i}-${config.rngSeed}`).digest('hex')}`;
      const s = rendezvous(digest, seeds);
      const pieceLength = choosePieceLength(size);
      return {
        digest,
        size,
        pieceLength,
        pieceCount: pieceCountFor(size, pieceLength),
        scheduler: this.#schedulers[s]!,
        seedNode: nodes + s,
        seedFlow: undefined,
        seedStarted: false,
        seedReady: 0,
        seedAnnounced: 0,
        downloads: [],
        seedWatchers: [],
      };
    });
  }

  get #now(): number {
    return this.#step * this.#c.stepMs;
  }

  run(): SimOutcome {
    const wallStart = performance.now();
    const cpuStart = process.cpuUsage();
    this.#start();
    const limitMs = this.#c.timeLimitSeconds * 1000;
    let lastProgress = wallStart;
    while (this.#nodesLeft > 0 && this.#now < limitMs) {
      const due = this.#queue.get(this.#step);
      if (due) {
        this.#queue.delete(this.#step);
        for (const action of due) action();
      }
      const now = this.#now;
      for (const download of this.#dirty) download.fill(now);
      this.#dirty.clear();
      this.#net.step(now, this.#c.stepMs);
      this.#advanceSeeds();
      this.#step++;
      if (performance.now() - lastProgress > 5_000) {
        lastProgress = performance.now();
        this.#progress(`simulated ${(this.#now / 1000).toFixed(1)} s: ${this.#c.nodes - this.#nodesLeft}/${this.#c.nodes} nodes done, ${this.#net.activeFlows} flows`);
      }
    }
    return this.#outcome(wallStart, cpuStart);
  }

  /** Every daemon registers with every scheduler and asks for every layer at time 0, in random order. */
  #start(): void {
    const { nodes, uploadSlots } = this.#c;
    for (const scheduler of this.#schedulers) for (let i = 0; i < nodes; i++) scheduler.register(daemonId(i), uploadSlots, 0);
    const order = this.rng.shuffle(Array.from({ length: nodes }, (_, i) => i));
    for (const node of order) {
      for (const [index, blob] of this.#blobs.entries()) {
        const download = new Download(this, index, node, daemonId(node), blob.pieceCount, 0);
        blob.downloads[node] = download;
        this.#askForTask(blob, download);
      }
    }
  }

  #askForTask(blob: Blob, download: Download): void {
    const rtt = this.#c.latencyMs;
    // The first request starts the seed: the scheduler answers once the origin told it the blob's size.
    let answerDelay = rtt;
    if (!blob.seedStarted) {
      blob.seedStarted = true;
      answerDelay += rtt;
      blob.scheduler.seedStarted(
        { digest: blob.digest, size: blob.size, pieceLength: blob.pieceLength, pieceCount: blob.pieceCount, pieceDigests: new Array(blob.pieceCount).fill(null) },
        () => blob.seedReady,
        this.#now,
      );
      this.#later(rtt, () => {
        blob.seedFlow = this.#net.start(this.#origin, blob.seedNode, blob.size, () => {
          blob.seedFlow = undefined;
          blob.seedReady = blob.pieceCount;
        });
        this.#originEgress += blob.size;
      });
    }
    const answer = blob.scheduler.task(blob.digest, download.peerId, this.#now);
    this.#later(answerDelay, () => {
      download.absorb(answer.known, answer.parents, this.#now, answer.swarm);
      this.#later(DAEMON.reportIntervalMs * this.rng.next(), () => this.#reportLoop(blob, download));
      this.#tickLoop(download);
    });
  }

  /** The daemon's reporter: a report every interval while there is news or a digest is wanted. */
  #reportLoop(blob: Blob, download: Download): void {
    if (download.complete) return;
    if (download.pendingFinished.length > 0 || download.pendingFailed > 0 || download.wantsDigests) this.#report(blob, download);
    this.#later(DAEMON.reportIntervalMs, () => this.#reportLoop(blob, download));
  }

  #report(blob: Blob, download: Download): void {
    const answer = blob.scheduler.report(blob.digest, download.peerId, download.pendingFinished, download.pendingFailed, this.#now);
    download.pendingFinished = [];
    download.pendingFailed = 0;
    this.#later(this.#c.latencyMs, () => download.absorb(answer.known, answer.parents, this.#now, answer.swarm));
  }

  /** The download loop's own tick: it looks again at least this often (time-based rules: patience, busy rests). */
  #tickLoop(download: Download): void {
    if (download.complete) return;
    this.wake(download);
    this.#later(DAEMON.tickMs, () => this.#tickLoop(download));
  }

  link(download: Download, peerId: string): ParentLink {
    const node = this.#nodeOf.get(peerId);
    if (node === undefined) throw new Error(`unknown peer ${peerId}`);
    const isSeed = node >= this.#c.nodes;
    const blob = this.#blobs[download.blob]!;
    if (isSeed) blob.seedWatchers.push(download);
    return { node, peerId, isSeed, hash: mix(node, 0x5eed), holder: isSeed ? undefined : blob.downloads[node], inFlight: 0, busyUntil: 0, inGroup: false };
  }

  requestPiece(download: Download, parent: ParentLink, index: number, now: number): void {
    this.#later(this.#c.latencyMs, () => {
      const at = this.#now;
      const bytes = this.#pieceBytes(download, index);
      const queue = this.#queues[parent.node]!;
      const upload = {
        bytes,
        start: () => {
          const flow = this.#net.start(parent.node, download.node, bytes, (doneAt) => {
            queue.finished(upload);
            download.received(parent.isSeed ? 'seed' : 'peers', bytes, at);
            download.onPiece(index, parent, doneAt, now);
          });
          return () => this.#net.bytesLeft(flow);
        },
      };
      const admission = queue.admit(upload);
      if (!admission.ok) download.onBusy(index, parent, at, admission.retryAfterMs);
    });
  }

  fromOrigin(download: Download, index: number, now: number): void {
    this.#later(this.#c.latencyMs, () => {
      const at = this.#now;
      const bytes = this.#pieceBytes(download, index);
      this.#originEgress += bytes;
      this.#net.start(this.#origin, download.node, bytes, (doneAt) => {
        download.received('origin', bytes, at);
        download.onPiece(index, undefined, doneAt, now);
      });
    });
  }

  finished(download: Download, at: number): void {
    const blob = this.#blobs[download.blob]!;
    // The reporter flushes at once when the download ends.
    this.#report(blob, download);
    if (--this.#remaining[download.node]! === 0) {
      this.#doneAt[download.node] = at;
      this.#nodesLeft--;
    }
  }

  /** ActiveDownloads.inFlightShare: the node's --pieces-in-flight split over its unfinished layers, at least 2 each. */
  piecesInFlight(download: Download): number {
    return Math.max(2, Math.ceil(this.#c.piecesInFlight / this.#remaining[download.node]!));
  }

  wake(download: Download): void {
    this.#dirty.add(download);
  }

  hashOf(peerId: string): number {
    const node = this.#nodeOf.get(peerId);
    if (node === undefined) throw new Error(`unknown peer ${peerId}`);
    return mix(node, 0x5eed);
  }

  #pieceBytes(download: Download, index: number): number {
    const blob = this.#blobs[download.blob]!;
    return Math.min(blob.pieceLength, blob.size - index * blob.pieceLength);
  }

  /** The seeds publish pieces as their origin bytes arrive, in order; their watchers hear of them at once. */
  #advanceSeeds(): void {
    for (const blob of this.#blobs) {
      if (blob.seedFlow !== undefined) blob.seedReady = Math.floor((blob.size - this.#net.bytesLeft(blob.seedFlow)) / blob.pieceLength);
      if (blob.seedReady === blob.seedAnnounced) continue;
      blob.seedAnnounced = blob.seedReady;
      for (const download of blob.seedWatchers) if (!download.complete) download.absorb(blob.seedReady, undefined, this.#now);
    }
  }

  /** Runs `action` at the first step that starts `delayMs` or more from now (never this step). */
  #later(delayMs: number, action: () => void): void {
    const step = Math.max(this.#step + 1, Math.ceil((this.#now + delayMs) / this.#c.stepMs - 1e-9));
    const due = this.#queue.get(step);
    if (due) due.push(action);
    else this.#queue.set(step, [action]);
  }

  #outcome(wallStart: number, cpuStart: NodeJS.CpuUsage): SimOutcome {
    const { nodes } = this.#c;
    const results: SimNodeResult[] = [];
    for (let i = 0; i < nodes; i++) {
      const bytes = { origin: 0, seed: 0, peers: 0 };
      let firstByte = Number.POSITIVE_INFINITY;
      for (const blob of this.#blobs) {
        const d = blob.downloads[i]!;
        bytes.origin += d.bytes.origin;
        bytes.seed += d.bytes.seed;
        bytes.peers += d.bytes.peers;
        firstByte = Math.min(firstByte, d.firstByteAt);
      }
      results.push({
        firstByteSeconds: firstByte / 1000,
        doneSeconds: this.#doneAt[i]! / 1000,
        bytesFromOrigin: bytes.origin,
        bytesFromSeed: bytes.seed,
        bytesFromPeers: bytes.peers,
      });
    }
    const cpu = process.cpuUsage(cpuStart);
    const ok = this.#nodesLeft === 0;
    let seedEgress = 0;
    for (let s = 0; s < this.#c.seeds; s++) seedEgress += this.#net.sent[nodes + s]!;
    return {
      ok,
      ...(ok ? {} : { error: `${this.#nodesLeft} of ${nodes} nodes had not finished after ${this.#c.timeLimitSeconds} s of simulated time` }),
      nodes: results,
      imageBytes: this.#blobs.reduce((sum, b) => sum + b.size, 0),
      pieceLengths: this.#blobs.map((b) => b.pieceLength),
      originEgressBytes: this.#originEgress,
      seedEgressBytes: seedEgress,
      bytesSent: this.#net.sent.reduce((a, b) => a + b, 0),
      bytesReceived: this.#net.received.reduce((a, b) => a + b, 0),
      simulatedSeconds: this.#now / 1000,
      steps: this.#step,
      schedulerCpuMs: this.#schedulers.reduce((sum, s) => sum + s.cpuMs, 0),
      schedulerCalls: this.#schedulers.reduce((sum, s) => sum + s.calls, 0),
      wallSeconds: (performance.now() - wallStart) / 1000,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  }
}

function daemonId(node: number): string {
  return `daemon-${node}`;
}

/** Which of `seeds` schedulers a blob goes to: the highest (digest, scheduler) score, the same on every daemon. */
function rendezvous(digest: string, seeds: number): number {
  const key = Number.parseInt(digest.slice(7, 15), 16);
  let best = 0;
  for (let s = 1; s < seeds; s++) if (mix(key, s) > mix(key, best)) best = s;
  return best;
}
