/*
 * Heap the scheduler's state takes per daemon: N registered hosts, each a peer of every task with all its pieces
 * and K parents, built with the real classes and measured as the heap growth between two forced collections.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { HostRegistry } from '../../../scheduler/src/hosts.ts';
import { TaskTable } from '../../../scheduler/src/tasks.ts';

let gc: (() => void) | undefined;

/** A full collection, exposed on first use only (a flag flip that the rest of the CLI need not carry). */
function collect(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  // Twice: the second pass also frees what the first only found unreachable late (weak refs, lazily swept pages).
  gc();
  gc();
}

/**
 * Bytes of scheduler heap per daemon for `nodes` daemons pulling blobs of these piece counts. Built twice: the first
 * build warms the code and the heap up (its figure swings by half), the second is measured.
 */
export function schedulerBytesPerPeer(nodes: number, pieceCounts: readonly number[], k: number): number {
  build(nodes, pieceCounts, k);
  return build(nodes, pieceCounts, k);
}

function build(nodes: number, pieceCounts: readonly number[], k: number): number {
  collect();
  const before = process.memoryUsage().heapUsed;
  const hosts = new HostRegistry(30_000);
  const tasks = new TaskTable();
  const all = pieceCounts.map((pieceCount, t) => {
    const digest = `sha256:${t.toString(16).padStart(64, '0')}`;
    return tasks.create({ digest, size: pieceCount, pieceLength: 1, pieceCount, pieceDigests: new Array<string>(pieceCount).fill('0'.repeat(64)) }, { registry: 'r', repository: 'x' }, 0);
  });
  const indexes = (count: number) => Array.from({ length: count }, (_, i) => i);
  for (let i = 0; i < nodes; i++) {
    const peerId = `12D3KooW${i.toString(36).padStart(44, '0')}`;
    hosts.register(peerId, { addresses: [`/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/65001`], uploadSlots: 200 }, 0);
    for (const task of all) {
      const peer = tasks.join(task, peerId, 0);
      tasks.setParents(peer, Array.from({ length: k }, (_, p) => `parent-${(i + p + 1) % nodes}`));
      tasks.addPieces(task, peer, indexes(task.meta.pieceCount), 0);
    }
  }
  collect();
  const after = process.memoryUsage().heapUsed;
  // Keep the state alive until measured.
  if (hosts.list().length !== nodes || all.length !== pieceCounts.length) throw new Error('unreachable');
  return Math.max(0, after - before) / nodes;
}
